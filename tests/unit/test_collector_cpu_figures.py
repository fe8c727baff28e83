"""The benchmark's before/after table of the collector's CPU and its profile's cost centres (no timing asserted)."""

from __future__ import annotations

import json

import pytest

from devtools import collector_before, collector_cpu
from devtools.collector_before import BeforeRun
from devtools.collector_cpu import BASELINE_SECONDS, TARGET_RATIO, CpuFigures


def test_after_is_compared_with_the_measured_baseline_and_the_target():
    # Given an "after" of a third of the 10,000-resource baseline, and a fleet without a baseline
    third = BASELINE_SECONDS[10_000] * TARGET_RATIO
    figures = [CpuFigures(10_000, 15_640, third, 2.0, 3.0), CpuFigures(12, 22, 0.5, 0.1, 1.5)]

    # When the table is printed
    table = collector_cpu.cpu_table(figures)

    # Then the first meets its target exactly and the second has no ratio to show
    assert figures[0].ratio is not None
    assert abs(figures[0].ratio - TARGET_RATIO) < 1e-9
    assert "0.33 (target met)" in table
    assert "3.00x (target met)" in table
    assert "1.50x (target not met)" in table
    assert figures[1].ratio is None


def _work() -> None:
    json.loads(json.dumps(list(range(2_000))))


def test_a_profile_names_every_cost_centre_and_the_functions_it_saw():
    figures = collector_cpu.profile(_work)
    assert [label for label, _ in figures.centres] == [label for label, _ in collector_cpu.COST_CENTRES]
    assert all(0.0 <= share <= 1.0 for _, share in figures.centres)
    assert "_work" in figures.text
    assert "share" in collector_cpu.profile_table(12, figures)


def _before(client_seconds: float) -> BeforeRun:
    return BeforeRun(
        size=10_000,
        records=15_640,
        api_calls=2_268,
        client_seconds=client_seconds,
        parallel_seconds=40.0,
        sequential_seconds=120.0,
    )


def test_the_old_code_measured_in_the_same_run_is_the_baseline_over_the_recorded_one():
    # Given an "after" of 5 s, and the old code measured in this run at 20 s (the recorded baseline is 14.64 s)
    figures = CpuFigures(10_000, 15_640, 5.0, 5.2, 3.6, before=_before(20.0))

    # When it is compared and printed
    table = collector_cpu.cpu_table([figures])

    # Then the ratio and the speed-up before are this run's, and the recorded figure is shown beside them
    assert figures.ratio == 0.25
    assert figures.baseline_speedup == 3.0
    assert "0.25 (target met)" in table
    assert f"{BASELINE_SECONDS[10_000]:.2f}" in table
    assert "20.00" in table


def test_the_old_benchmarks_json_gives_the_figures_of_its_fleet():
    document = {
        "fleets": [
            {"size": 100, "usage_records": 1, "api_calls": 2, "client_seconds": 0.1},
            {
                "size": 10_000,
                "usage_records": 15_640,
                "api_calls": 2_268,
                "client_seconds": 20.8,
                "parallel_seconds": 44.35,
                "sequential_seconds": 129.11,
            },
        ]
    }
    run = collector_before.from_document(document, 10_000)
    assert (run.records, run.api_calls, run.client_seconds) == (15_640, 2_268, 20.8)
    assert round(run.speedup, 2) == 2.91
    with pytest.raises(collector_before.BeforeUnavailable, match="no figures for 1,000 resources"):
        collector_before.from_document(document, 1_000)
