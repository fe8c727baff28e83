"""The benchmark's before/after table of the collector's CPU and its profile's cost centres (no timing asserted)."""

from __future__ import annotations

import json

from devtools import collector_cpu
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
