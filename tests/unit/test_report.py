"""Reports sum every figure with its bounds, and show both (docs/methodology.md, "Uncertainty")."""

from __future__ import annotations

import re

import pytest

from carbonmeter import report
from carbonmeter.aws import ApiCallCounter
from carbonmeter.emissions import estimate_all, rollup
from carbonmeter.models import Rollup, Service
from tests.support.estimates import emission_record, usage

FIGURES = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e")


def assert_figures(totals: report.Totals, *expected: tuple[float, float, float]) -> None:
    """Energy, operational and embodied, each as (low, central, high)."""
    found = [(e.low, e.central, e.high) for e in totals.estimates()]
    for figure, got, want in zip(FIGURES, found, expected, strict=True):
        assert got == pytest.approx(want), figure


def test_a_resource_sums_its_hours_lows_and_highs():
    totals = report.by_resource([emission_record(hour_offset=0), emission_record(hour_offset=1)])
    (only,) = totals.values()
    assert only.hours == 2.0
    assert_figures(only, (1.0, 2.0, 4.0), (0.4, 0.8, 1.8), (0.1, 0.2, 0.4))


def test_a_record_without_bounds_adds_its_central_figure_to_both():
    # Given a bounded hour and an hour from a provider that gives no bounds (twice the figures)
    totals = report.by_resource(
        [emission_record(hour_offset=0), emission_record(hour_offset=1, bounded=False, scale=2.0)]
    )
    (only,) = totals.values()
    # Then the unbounded hour counts its central figure (2 kWh, 0.8 kg, 0.2 kg) on both sides
    assert_figures(only, (2.5, 3.0, 4.0), (1.0, 1.2, 1.7), (0.25, 0.3, 0.4))


def test_region_service_totals_sum_rollup_bounds_and_fall_back_to_central():
    bounded, unbounded = (
        rollup([emission_record("i-1")]),
        rollup([emission_record("i-2", hour_offset=1, bounded=False)]),
    )
    assert unbounded[0].energy_kwh_range is None
    totals = report.by_region_service([*bounded, *unbounded])
    assert_figures(totals[("us-east-1", "ec2")], (1.5, 2.0, 3.0), (0.6, 0.8, 1.3), (0.15, 0.2, 0.3))


def test_the_grand_total_sums_the_bounds_of_every_total():
    totals = report.by_resource(
        [emission_record("i-1"), emission_record("i-2", scale=3.0), emission_record("i-3", bounded=False)]
    )
    total = report.grand_total(totals.values())
    assert_figures(total, (3.0, 5.0, 9.0), (1.2, 2.0, 4.0), (0.3, 0.5, 0.9))


def test_estimate_json_keeps_the_central_figures_and_adds_the_ranges():
    document = report.estimate_document(
        [emission_record("i-1"), emission_record("i-2", bounded=False)], ApiCallCounter()
    )
    first, second = document["resources"]
    # The central figures keep their keys and values
    assert first["energy_kwh"] == pytest.approx(1.0)
    assert document["totals"]["operational_kgco2e"] == pytest.approx(0.8)
    # And each has its range next to it, per resource and in the totals
    assert first["energy_kwh_range"] == pytest.approx({"low": 0.5, "high": 2.0})
    assert second["energy_kwh_range"] == pytest.approx({"low": 1.0, "high": 1.0})
    assert document["totals"]["embodied_kgco2e_range"] == pytest.approx({"low": 0.15, "high": 0.3})
    for figures in (*document["resources"], document["totals"]):
        assert {f"{figure}_range" for figure in FIGURES} <= figures.keys()


def test_every_builtin_estimate_reports_low_central_high_in_order():
    # Given the builtin methodology's records for a mixed fleet
    fleet = [
        usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=30),
        usage(Service.EC2, "t3.micro", resource_id="i-burst"),
        usage(Service.EBS, "gp3", resource_id="vol-1", storage_gb=100),
        usage(Service.S3, "StandardStorage", resource_id="bucket", storage_gb=2000),
    ]
    document = report.estimate_document(estimate_all(fleet), ApiCallCounter())
    # Then every resource and the totals are ordered low <= central <= high, with a real spread of energy
    for figures in (*document["resources"], document["totals"]):
        for figure in FIGURES:
            span = figures[f"{figure}_range"]
            assert span["low"] <= figures[figure] <= span["high"], (figures, figure)
        assert figures["energy_kwh_range"]["low"] < figures["energy_kwh_range"]["high"]


def test_tables_show_central_low_high_with_the_numbers_aligned_and_a_note():
    totals = report.by_resource([emission_record("i-1"), emission_record("i-2", scale=20.0)])
    text = report.resource_table(totals)
    lines = text.splitlines()
    assert lines[0].endswith("  emb kgCO2e [low, high]")
    # central [low, high], each part padded so that the columns of numbers line up
    assert " 1.000000 [ 0.500000,  2.000000]" in lines[2]
    assert "20.000000 [10.000000, 40.000000]" in lines[3]
    assert re.search(r"^TOTAL\s.*21\.000000 \[10\.500000, 42\.000000\]", lines[4])
    assert len({len(line) for line in lines[:5]}) == 1
    # And one line under the table says how to read it and where the method is
    assert lines[-1] == report.RANGES_NOTE
    assert "docs/methodology.md#uncertainty-low-and-high-bounds" in report.RANGES_NOTE


def test_region_service_table_has_a_range_for_every_row():
    rollups: list[Rollup] = rollup([emission_record("i-1"), emission_record("i-2", bounded=False)])
    text = report.region_service_table(report.by_region_service(rollups))
    assert "energy kWh [low, high]" in text.splitlines()[0]
    assert re.search(r"^us-east-1\s+ec2\s+2\.000000 \[1\.500000, 3\.000000\]", text, re.MULTILINE)
    assert re.search(r"^TOTAL\s+2\.000000 \[1\.500000, 3\.000000\]", text, re.MULTILINE)


def test_tables_without_estimates_are_unchanged():
    assert report.table(["API call", "count"], [["sts:AssumeRole", 1], ["TOTAL", 12]]) == (
        "API call        count\n--------------  -----\nsts:AssumeRole      1\nTOTAL              12"
    )
