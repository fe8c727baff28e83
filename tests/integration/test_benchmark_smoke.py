"""The benchmark's figures on a tiny fleet: coherent with each other, not timed."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import cloudwatch
from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.models import Service, previous_whole_hour
from carbonmeter.settings import Settings
from devtools import benchmark, export_memory
from devtools.aws.server import embedded_aws

REGIONS = ("us-east-1", "eu-west-1")
SIZE = 12
HOUR = previous_whole_hour(datetime.now(UTC))


def test_benchmark_command_prints_coherent_figures_for_a_tiny_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a 12-resource fleet over two regions and 5 ms on every request
    # (the year of roll-ups is left out: tests/integration/test_periods_store.py holds its request budget)
    argv = ["--sizes", str(SIZE), "--regions", ",".join(REGIONS), "--latency-ms", "5", "--format", "json"]
    argv += ["--no-year-reads", "--no-export", "--no-lambda", "--no-windows", "--no-scheduler"]

    # When the benchmark command runs
    assert benchmark.main(argv) == 0

    # Then every figure agrees with the others
    document = json.loads(capsys.readouterr().out)
    assert document["parameters"]["sizes"] == [SIZE]
    (fleet,) = document["fleets"]
    assert fleet["regions"] == len(REGIONS)
    # EC2 brings root volumes and S3 one resource per storage class, so more are found than seeded.
    assert fleet["resources_found"] > SIZE
    assert fleet["usage_records"] == fleet["resources_found"]
    assert fleet["get_metric_data_requests"] == fleet["minimum_requests"] == fleet["calls"]["monitoring:GetMetricData"]
    # (EC2's CPUUtilization SampleCount is a query of its own, billed with its Average as one metric)
    assert fleet["queries_sent"] == fleet["queries"] > fleet["metrics_requested"]
    assert 0 < fleet["largest_request"] <= cloudwatch.MAX_QUERIES_PER_REQUEST
    assert fleet["statistics_baseline_requests"] >= fleet["get_metric_data_requests"]
    assert fleet["api_calls"] == sum(fleet["calls"].values())
    assert fleet["same_records"] is True
    assert fleet["speedup"] == pytest.approx(fleet["sequential_seconds"] / fleet["parallel_seconds"])
    assert fleet["get_metric_data_usd_per_hour"] == pytest.approx(fleet["metrics_requested"] * 0.01 / 1000)


def test_the_minimum_matches_the_planner_and_parallel_and_sequential_collect_the_same_records() -> None:
    # Given a tiny fleet with its hour of datapoints
    with embedded_aws():
        clients = ClientFactory(settings=Settings.from_env())
        fleet = benchmark.build_fleet(clients, SIZE, REGIONS, HOUR)
        requests = benchmark.metric_requests_by_region(clients, fleet)

        # When it is collected with the regions in parallel and one after another
        parallel = benchmark.run_collection(clients, fleet, workers=len(REGIONS), latency_s=0.001)
        sequential = benchmark.run_collection(clients, fleet, workers=1, latency_s=0.001)

    # Then the independent ceil(Q/500) count is the planner's, and both runs agree on everything
    figures = benchmark.plan_figures(requests)
    assert figures.minimum_requests == sum(benchmark.minimum_requests(r) for r in requests.values())
    assert parallel.get_metric_data_calls == figures.minimum_requests
    assert parallel.records == sequential.records
    assert parallel.calls == sequential.calls
    assert parallel.resources == sequential.resources == len(parallel.records)
    # One request per API call went through the latency hook: nothing was retried.
    assert parallel.requests_sent == parallel.total_calls
    assert parallel.get_metric_data.series_with_data > 0


def test_datapoints_outside_the_hour_change_no_request_count_only_the_values() -> None:
    # Given the same fleet seeded with its datapoints in the hour, then three days before it
    inside = benchmark.benchmark_size(SIZE, REGIONS, HOUR, 0.0)
    outside = benchmark.benchmark_size(SIZE, REGIONS, HOUR, 0.0, datapoints_in_window=False)

    # Then the collector finds and asks for exactly the same, and only the answers are empty
    for field in ("resources_found", "queries", "minimum_requests", "get_metric_data_requests", "metrics_requested"):
        assert getattr(inside, field) == getattr(outside, field), field
    assert inside.calls == outside.calls
    assert inside.series_with_data > 0
    assert outside.series_with_data == 0
    assert inside.same_records
    assert outside.same_records


def test_plan_figures_sum_ceil_q_over_500_per_region_and_window() -> None:
    # Given 1,201 hourly queries in one region and 10 daily ones in another
    end = HOUR + timedelta(hours=1)

    def request(index: int, period: int, start: datetime) -> MetricRequest:
        return MetricRequest(
            "AWS/EC2", "CPUUtilization", (("InstanceId", f"i-{index}"),), "Average", period, start, end
        )

    hourly = [request(index, 3600, HOUR) for index in range(1201)]
    daily = [request(index, 86400, end - timedelta(days=2)) for index in range(10)]

    # When the figures are worked out (duplicates included, as the planner drops them)
    figures = benchmark.plan_figures({"us-east-1": hourly + hourly[:5], "eu-west-1": daily})

    # Then each group needs ceil(Q/500) requests
    assert figures.queries == 1211
    assert figures.groups == 2
    assert figures.largest_group == 1201
    assert figures.minimum_requests == math.ceil(1201 / 500) + 1 == 4
    assert figures.statistics_baseline_requests == 1211


def test_the_export_figures_count_every_hour_of_the_window_and_a_peak() -> None:
    # Given a day of hourly roll-ups of two groups, exported as the benchmark's year is
    start = datetime(2025, 1, 1, tzinfo=UTC)
    groups = (("us-east-1", Service.EC2), ("eu-west-1", Service.S3))
    figures = export_memory.window_export(start, start + timedelta(days=1), groups)
    # Then every stored roll-up is one row of the CSV, and the peak and size are measured
    assert (figures.hours, figures.groups_per_hour, figures.items_stored) == (24, 2, 48)
    assert figures.rows == 48
    assert figures.csv_bytes > 48 * 100
    assert figures.peak_mib > 0
