"""The GetMetricData planner: fewest requests, at most 500 queries each, one window and period each."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter.cloudwatch import MAX_QUERIES_PER_REQUEST, MetricRequest, billed_metrics, plan, queries
from devtools.benchmark import minimum_requests, statistics_baseline_requests

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)


def request(
    n: int,
    *,
    metric: str = "CPUUtilization",
    stat: str = "Average",
    period: int = 3600,
    start: datetime = HOUR,
    hours: int = 1,
) -> MetricRequest:
    return MetricRequest(
        "AWS/EC2", metric, (("InstanceId", f"i-{n:05d}"),), stat, period, start, start + timedelta(hours=hours)
    )


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, []), (1, [1]), (500, [500]), (501, [500, 1]), (1234, [500, 500, 234])],
)
def test_one_window_needs_ceil_q_over_500_requests(count: int, sizes: list[int]):
    requests = [request(n) for n in range(count)]

    batches = plan(requests)

    assert [len(batch) for batch in batches] == sizes
    assert minimum_requests(requests) == len(sizes)
    planned = [r for batch in batches for r in batch]
    assert len(planned) == len(set(planned))
    assert set(planned) == set(requests)


def test_each_request_holds_one_period_and_one_window():
    # Given 600 hourly queries for 10:00, 600 for 11:00 and 10 daily ones
    requests = (
        [request(n) for n in range(600)]
        + [request(n, start=HOUR + timedelta(hours=1)) for n in range(600)]
        + [request(n, metric="BucketSizeBytes", period=86400, hours=48) for n in range(10)]
    )

    # When planned
    batches = plan(requests)

    # Then each group is cut separately: 2 + 2 + 1 requests, never mixing windows or periods
    assert sorted(len(batch) for batch in batches) == [10, 100, 100, 500, 500]
    for batch in batches:
        assert len({(r.period, r.start, r.end) for r in batch}) == 1
    assert minimum_requests(requests) == 5


def test_duplicates_are_requested_once():
    requests = [request(n % 300) for n in range(1200)]

    batches = plan(requests)

    assert [len(batch) for batch in batches] == [300]
    assert billed_metrics(batches[0]) == 300


def test_the_plan_does_not_depend_on_input_order():
    requests = [request(n, stat=stat) for n in range(700) for stat in ("Average", "Maximum")]

    assert plan(requests) == plan(list(reversed(requests)))


def test_statistics_of_one_metric_stay_together_so_they_bill_once():
    # Given two statistics for each of 250 instances, listed statistic by statistic
    requests = [request(n, stat=stat) for stat in ("Average", "Maximum") for n in range(250)]

    # When planned into one request
    (batch,) = plan(requests)

    # Then neighbours share a metric, and CloudWatch bills one metric per instance
    assert [r.dimensions for r in batch[0::2]] == [r.dimensions for r in batch[1::2]]
    assert billed_metrics(batch) == 250


def test_a_sixth_statistic_of_one_metric_bills_a_second_metric():
    stats = ("Average", "Maximum", "Minimum", "Sum", "SampleCount", "p99")

    assert billed_metrics([request(1, stat=stat) for stat in stats[:5]]) == 1
    assert billed_metrics([request(1, stat=stat) for stat in stats]) == 2


def test_query_ids_are_valid_and_unique_in_every_request():
    requests = [request(n, stat=stat) for n in range(700) for stat in ("Average", "Sum")]

    for batch in plan(requests):
        ids = [query["Id"] for query in queries(batch)]
        assert len(ids) == len(set(ids)) == len(batch) <= MAX_QUERIES_PER_REQUEST
        assert all(re.fullmatch(r"[a-z][a-zA-Z0-9_]*", query_id) for query_id in ids)


def test_queries_carry_the_metric_statistic_and_period():
    (query,) = queries([request(7, stat="Sum", period=300)])

    assert query["MetricStat"] == {
        "Metric": {
            "Namespace": "AWS/EC2",
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "InstanceId", "Value": "i-00007"}],
        },
        "Period": 300,
        "Stat": "Sum",
    }


def test_the_statistics_baseline_needs_a_call_per_metric_window_and_period():
    # Given 1000 instances x (Average, Maximum) for one hour, and 10 daily metrics over 2 days
    hourly = [request(n, stat=stat) for n in range(1000) for stat in ("Average", "Maximum")]
    daily = [request(n, metric="BucketSizeBytes", period=86400, hours=48) for n in range(10)]

    # Then GetMetricStatistics folds the two statistics into one call per instance,
    # whereas GetMetricData needs ceil(2000 / 500) + 1 requests
    assert statistics_baseline_requests(hourly + daily) == 1010
    assert minimum_requests(hourly + daily) == 5


def test_the_statistics_baseline_splits_windows_over_1440_datapoints():
    # A day of one-minute data is exactly 1440 points; two days need two calls
    one_day = request(1, period=60, hours=24)
    two_days = request(2, period=60, hours=48)

    assert statistics_baseline_requests([one_day]) == 1
    assert statistics_baseline_requests([two_days]) == 2
