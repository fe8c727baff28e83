"""The benchmark's last table: each of issue #15's figures over its target, from the run's own measurements."""

from __future__ import annotations

import pytest

from devtools import scheduler_scale, targets
from devtools.cold_starts import ImportTime, LayerSize
from devtools.collector_cpu import BASELINE_SECONDS, CpuFigures
from devtools.lambda_benchmark import LambdaFigures
from devtools.lambda_sizing import SizingFigures
from devtools.scheduler_scale import SchedulerRun
from devtools.window_costs import WindowFigures


def _window(hours: int, metrics_per_month: float) -> WindowFigures:
    return WindowFigures(hours, 1000, 4, 1904, 730 / hours, metrics_per_month, metrics_per_month * 0.00001)


def _lambda(records_per_second: float, collector_ms: float) -> LambdaFigures:
    imports = (
        ImportTime("collector", "functions.collector.handler", collector_ms, collector_ms / 150, 250.0, 50.0),
        ImportTime("api", "functions.api.handler", 550.0, 3.7, None, 60.0),
    )
    layer = LayerSize("python3.14 arm64", 824, 14 * 1024 * 1024, 4 * 1024 * 1024)
    sizing = SizingFigures(10_000, 4, 15_640, False, 82.0, 68.0, records_per_second)
    return LambdaFigures(150.0, 250.0, imports, layer, sizing)


def test_a_24_hour_window_at_a_24th_of_hourly_meets_its_target_exactly():
    found = targets.window_rows([_window(1, 2400.0), _window(6, 400.0), _window(24, 100.0)])
    assert [(row.target, row.ratio, row.met) for row in found] == [
        ("1/6 of hourly", pytest.approx(1.0), True),
        ("1/24 of hourly", pytest.approx(1.0), True),
    ]


def test_a_window_dearer_than_its_share_of_hourly_misses():
    (row,) = targets.window_rows([_window(1, 2400.0), _window(24, 150.0)])
    assert row.ratio == pytest.approx(1.5)
    assert not row.met


def test_the_collector_rows_compare_with_the_baseline_and_the_speedup_target():
    baseline = BASELINE_SECONDS[10_000]
    time, speedup = targets.collector_rows([CpuFigures(10_000, 15_640, baseline * 0.4, 5.0, 3.0)])
    # 0.4 of before against a third: 1.2 times the target, missed; 3x against 2.5x: met
    assert (time.ratio, time.met) == (pytest.approx(1.2), False)
    assert (speedup.ratio, speedup.met) == (pytest.approx(1.2), True)


def test_at_least_and_at_most_targets_read_the_ratio_each_their_way():
    rows = {row.what: row for row in targets.lambda_rows(_lambda(25_000.0, 200.0))}
    calculator = rows["calculator, builtin estimate"]
    assert (calculator.ratio, calculator.met) == (pytest.approx(0.5), False)
    collector = rows["collector import"]
    assert (collector.ratio, collector.met) == (pytest.approx(0.8), True)
    # A handler without a target has no row; memory is its imports and its work against the function's
    assert "api import" not in rows
    assert rows["collector peak memory, 10,000 resources"].measured.startswith("132 MiB")


def test_the_scheduler_row_is_the_longest_invocation_at_the_most_connections_against_a_third_of_its_timeout():
    runs = [
        SchedulerRun(1000, scheduler_scale.SLOWEST_PAGE, 4, 16, 330, 750, 25.0, 20.0),
        SchedulerRun(10_000, scheduler_scale.HOURLY, 40, 16, 9, 0, 2.0, 1.8),
        SchedulerRun(10_000, scheduler_scale.SLOWEST_PAGE, 40, 16, 330, 750, 10.0, 9.5),
        # Every page added up is no one invocation, whatever its time
        SchedulerRun(10_000, scheduler_scale.EVERY_PAGE, 40, 16, 13_000, 30_000, 300.0, 250.0),
    ]
    (row,) = targets.scheduler_rows(runs)
    assert row.what == "scheduler's longest invocation, 10,000 connections"
    assert row.measured.startswith("slowest page: 10.0 s")
    assert (row.ratio, row.met) == (pytest.approx(0.5), True)


def test_a_part_the_run_skipped_leaves_its_rows_out():
    assert targets.rows([], None, [], []) == []
    table = targets.table(targets.rows([], _lambda(60_000.0, 300.0), [], []))
    assert "calculator, builtin estimate" in table
    assert "scheduler" not in table
