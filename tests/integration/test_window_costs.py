"""The benchmark's collection-window figures on a tiny fleet: counts, not timings."""

from __future__ import annotations

import json

import pytest

from carbonmeter import monitoring
from devtools import benchmark

REGIONS = ("us-east-1", "eu-west-1")


def test_the_windows_figures_cost_a_24th_at_24_hours_and_a_6th_at_6_hours(capsys: pytest.CaptureFixture[str]):
    # When the benchmark measures only the windows, for a 12-resource fleet
    argv = ["--windows-only", "--windows-size", "12", "--regions", ",".join(REGIONS), "--format", "json"]
    assert benchmark.main(argv) == 0
    hourly, six, daily = json.loads(capsys.readouterr().out)["windows"]
    # Then each window is read with the same metrics, one query per metric whatever its length
    assert [w["window_hours"] for w in (hourly, six, daily)] == [1, 6, 24]
    assert hourly["metrics_per_collection"] > 0
    assert hourly["metrics_per_collection"] == six["metrics_per_collection"] == daily["metrics_per_collection"]
    assert hourly["get_metric_data_requests"] == six["get_metric_data_requests"] == daily["get_metric_data_requests"]
    # And a month costs a 6th and a 24th of hourly, at the library's price
    assert six["metrics_per_month"] * 6 == pytest.approx(hourly["metrics_per_month"])
    assert daily["metrics_per_month"] * 24 == pytest.approx(hourly["metrics_per_month"])
    assert hourly["usd_per_month"] == pytest.approx(monitoring.monthly_usd(hourly["metrics_per_collection"], 1))
    assert daily["usd_per_month_per_1000_resources"] == pytest.approx(
        daily["usd_per_month"] * 1000 / daily["resources"]
    )
