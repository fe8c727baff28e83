"""Batched GetMetricData against the embedded CloudWatch: batching, paging, billing, errors."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from carbonmeter import cloudwatch
from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricDataError, MetricRequest
from tests.support.cloudwatch import CloudWatchLimitExceeded, CloudWatchLimits, GetMetricDataPager

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
REGION = "eu-west-1"


def cpu(instance_id: str, *, stat: str = "Average", period: int = 3600) -> MetricRequest:
    return MetricRequest(
        "AWS/EC2", "CPUUtilization", (("InstanceId", instance_id),), stat, period, HOUR, HOUR + timedelta(hours=1)
    )


def seed_cpu(client: Any, values: dict[str, list[float]], *, every: timedelta = timedelta(minutes=5)) -> None:
    """Puts each instance's values at HOUR, HOUR + every, ... into AWS/EC2 CPUUtilization."""
    data = [
        {
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
            "Timestamp": HOUR + index * every,
            "Value": value,
        }
        for instance_id, series in values.items()
        for index, value in enumerate(series)
    ]
    for start in range(0, len(data), 1000):
        client.put_metric_data(Namespace="AWS/EC2", MetricData=data[start : start + 1000])


def test_a_request_over_500_queries_fails_the_test(clients: ClientFactory, enforce_cloudwatch_limits: CloudWatchLimits):
    # Given a direct GetMetricData call with 501 queries, which moto itself would accept
    queries = cloudwatch.queries([cpu(f"i-{n}") for n in range(501)])

    # When it is sent
    with pytest.raises(CloudWatchLimitExceeded, match="501 MetricDataQueries"):
        clients.client("cloudwatch", REGION).get_metric_data(
            MetricDataQueries=queries, StartTime=HOUR, EndTime=HOUR + timedelta(hours=1)
        )

    # Then the check recorded it (cleared here, or teardown would fail this test on purpose)
    assert enforce_cloudwatch_limits.violations == ["501 MetricDataQueries (CloudWatch accepts 1 to 500)"]
    enforce_cloudwatch_limits.violations.clear()


def test_the_limit_check_covers_sessions_created_inside_the_code(
    aws: None, enforce_cloudwatch_limits: CloudWatchLimits
):
    # Given a session created after the fixture, as assume_role does, with a repeated query Id
    client = boto3.Session(region_name=REGION).client("cloudwatch")
    queries = cloudwatch.queries([cpu("i-1"), cpu("i-2")])
    queries[1]["Id"] = queries[0]["Id"]

    # When it is sent, Then the check rejects it
    with pytest.raises(CloudWatchLimitExceeded, match="repeated query Ids"):
        client.get_metric_data(MetricDataQueries=queries, StartTime=HOUR, EndTime=HOUR + timedelta(hours=1))
    enforce_cloudwatch_limits.violations.clear()


def test_fetch_batches_1234_metrics_into_three_requests_and_bills_each_metric_once(
    clients: ClientFactory, counter: ApiCallCounter, enforce_cloudwatch_limits: CloudWatchLimits
):
    # Given 1234 instances with one CPU datapoint each
    client = clients.client("cloudwatch", REGION)
    seed_cpu(client, {f"i-{n:05d}": [float(n % 100)] for n in range(1234)})
    requests = [cpu(f"i-{n:05d}") for n in range(1234)]

    # When their hourly CPU is fetched
    values = cloudwatch.fetch(client, requests, counter)

    # Then three requests of at most 500 queries carried them, and every value is right
    assert enforce_cloudwatch_limits.query_counts == [500, 500, 234]
    assert counter.calls["monitoring:GetMetricData"] == 3
    assert counter.metrics_requested == 1234
    assert all(values[cpu(f"i-{n:05d}")] == [float(n % 100)] for n in range(1234))


def test_fetch_gives_every_request_an_entry_even_without_data(clients: ClientFactory, counter: ApiCallCounter):
    client = clients.client("cloudwatch", REGION)
    seed_cpu(client, {"i-busy": [40.0]})

    values = cloudwatch.fetch(client, [cpu("i-busy"), cpu("i-idle"), cpu("i-busy")], counter)

    assert values == {cpu("i-busy"): [40.0], cpu("i-idle"): []}
    assert counter.metrics_requested == 2


def test_fetch_follows_next_token_and_merges_pages_newest_first(aws: None, settings, counter: ApiCallCounter):
    # Given CloudWatch returning at most 5 datapoints a page, and 3 metrics of 12 five-minute points
    pager = GetMetricDataPager(max_datapoints=5)
    clients = ClientFactory(boto3.Session(), settings=settings, counter=counter, hooks=pager.hooks())
    client = clients.client("cloudwatch", REGION)
    series = {f"i-{n}": [float(10 * n + minute) for minute in range(12)] for n in range(3)}
    seed_cpu(client, series)
    requests = [cpu(instance_id, period=300) for instance_id in series]

    # When they are fetched
    values = cloudwatch.fetch(client, requests, counter)

    # Then all 36 points arrive over 8 pages, newest first, and only the first page is billed
    assert pager.pages_served == 8
    assert counter.calls["monitoring:GetMetricData"] == 8
    assert {request.dimensions[0][1]: values[request] for request in requests} == {
        instance_id: list(reversed(points)) for instance_id, points in series.items()
    }
    assert counter.metrics_requested == 3


def test_fetch_keeps_up_to_five_statistics_of_a_metric_in_one_billed_metric(
    clients: ClientFactory, counter: ApiCallCounter
):
    client = clients.client("cloudwatch", REGION)
    seed_cpu(client, {"i-1": [10.0, 30.0]})
    stats = ("Average", "Maximum", "Minimum", "Sum", "SampleCount")

    values = cloudwatch.fetch(client, [cpu("i-1", stat=stat) for stat in stats], counter)

    assert [values[cpu("i-1", stat=stat)] for stat in stats] == [[20.0], [30.0], [10.0], [40.0], [2.0]]
    assert counter.metrics_requested == 1


def test_fetch_sends_one_request_per_period_and_window(
    clients: ClientFactory, counter: ApiCallCounter, enforce_cloudwatch_limits: CloudWatchLimits
):
    client = clients.client("cloudwatch", REGION)
    seed_cpu(client, {"i-1": [10.0, 30.0]})
    later = replace(cpu("i-2"), start=HOUR + timedelta(hours=3), end=HOUR + timedelta(hours=4))

    values = cloudwatch.fetch(client, [cpu("i-1"), cpu("i-1", period=300), later], counter)

    assert enforce_cloudwatch_limits.query_counts == [1, 1, 1]
    assert values == {cpu("i-1"): [20.0], cpu("i-1", period=300): [30.0, 10.0], later: []}


def test_consecutive_hours_of_a_metric_are_read_once_and_split_by_timestamp(
    clients: ClientFactory, counter: ApiCallCounter, enforce_cloudwatch_limits: CloudWatchLimits
):
    # Given CPU data over three hours (every 20 minutes: 10, 20, 30 | 40, 50, 60 | 70, 80, 90)
    client = clients.client("cloudwatch", REGION)
    seed_cpu(client, {"i-1": [10.0 * (n + 1) for n in range(9)]}, every=timedelta(minutes=20))
    hours = [replace(cpu("i-1"), start=HOUR + n * timedelta(hours=1), end=HOUR + (n + 1) * timedelta(hours=1))
             for n in range(3)]  # fmt: skip

    # When the three hourly requests are fetched together
    values = cloudwatch.fetch(client, hours, counter)

    # Then one query over the three hours was sent and billed, and each hour got its own average
    assert enforce_cloudwatch_limits.query_counts == [1]
    assert counter.metrics_requested == 1
    assert [values[hour] for hour in hours] == [[20.0], [50.0], [80.0]]


def test_only_touching_windows_are_joined():
    # Hours 0-1 and 1-2 touch and join; hour 5-6 stands apart; another period is another series.
    first, second = cpu("i-1"), replace(cpu("i-1"), start=HOUR + timedelta(hours=1), end=HOUR + timedelta(hours=2))
    apart = replace(cpu("i-1"), start=HOUR + timedelta(hours=5), end=HOUR + timedelta(hours=6))
    fine = cpu("i-1", period=300)

    spans = cloudwatch.joined_windows([first, second, apart, fine])

    assert spans[first] == spans[second] == replace(first, end=second.end)
    assert spans[apart] == apart
    assert spans[fine] == fine


def stubbed_client(responses: list[dict[str, Any]]) -> tuple[Any, Stubber]:
    client = boto3.Session().client("cloudwatch", region_name=REGION)
    stubber = Stubber(client)
    for response in responses:
        stubber.add_response("get_metric_data", response)
    return client, stubber


@pytest.mark.parametrize("status", ["Forbidden", "InternalError"])
def test_fetch_raises_a_clear_error_when_cloudwatch_refuses_a_query(status: str):
    client, stubber = stubbed_client(
        [{"MetricDataResults": [{"Id": "q0", "StatusCode": status, "Values": [], "Timestamps": []}]}]
    )

    with (
        stubber,
        pytest.raises(MetricDataError, match=f"{status} for AWS/EC2 CPUUtilization Average \\[InstanceId=i-1\\]"),
    ):
        cloudwatch.fetch(client, [cpu("i-1")], ApiCallCounter())


def test_fetch_raises_on_a_forbidden_message(caplog: pytest.LogCaptureFixture):
    client, stubber = stubbed_client(
        [
            {
                "MetricDataResults": [],
                "Messages": [
                    {"Code": "Forbidden", "Value": "Authentication too complex to retrieve cross region data"}
                ],
            }
        ]
    )

    with stubber, pytest.raises(MetricDataError, match="Forbidden for request: Authentication too complex"):
        cloudwatch.fetch(client, [cpu("i-1")], ApiCallCounter())


def test_fetch_raises_on_a_forbidden_message_of_one_result():
    client, stubber = stubbed_client(
        [
            {
                "MetricDataResults": [
                    {"Id": "q0", "StatusCode": "Complete", "Messages": [{"Code": "Forbidden", "Value": "denied"}]}
                ]
            }
        ]
    )

    with (
        stubber,
        pytest.raises(MetricDataError, match=r"Forbidden for AWS/EC2 CPUUtilization Average \[InstanceId=i-1\]"),
    ):
        cloudwatch.fetch(client, [cpu("i-1")], ApiCallCounter())


def test_fetch_keeps_paging_through_partial_data_and_warns_if_it_never_completes(caplog: pytest.LogCaptureFixture):
    # Given a first page cut short and a last page that still says PartialData
    client, stubber = stubbed_client(
        [
            {
                "MetricDataResults": [{"Id": "q0", "StatusCode": "PartialData", "Values": [3.0], "Timestamps": [HOUR]}],
                "NextToken": "more",
            },
            {"MetricDataResults": [{"Id": "q0", "StatusCode": "PartialData", "Values": [1.0], "Timestamps": [HOUR]}]},
        ]
    )
    counter = ApiCallCounter()

    # When fetched
    with stubber, caplog.at_level(logging.WARNING, logger="carbonmeter.cloudwatch"):
        values = cloudwatch.fetch(client, [cpu("i-1")], counter)

    # Then both pages' values are kept, the gap is reported, and the metric is billed once
    assert values == {cpu("i-1"): [3.0, 1.0]}
    assert "incomplete" in caplog.text
    assert counter.metrics_requested == 1
