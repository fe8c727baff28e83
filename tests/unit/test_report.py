"""Reports sum every figure with its bounds, and show both (docs/methodology.md, "Uncertainty")."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from carbonmeter import report
from carbonmeter.aws import ApiCallCounter
from carbonmeter.emissions import estimate_all, rollup
from carbonmeter.models import EmissionRecord, Rollup, Service
from carbonmeter.services import SLICES
from tests.support.estimates import HOUR, emission_record, usage

FIGURES = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e")


def assert_figures(totals: report.Totals, *expected: tuple[float, float, float]) -> None:
    """Energy, operational and embodied, each as (low, central, high)."""
    found = [(e.low, e.central, e.high) for e in totals.estimates()[:3] if isinstance(e, report.Estimate)]
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


def _document(*records: EmissionRecord) -> dict[str, Any]:
    return report.estimate_document(records, ApiCallCounter(), HOUR, HOUR + timedelta(hours=2))


def test_estimate_json_keeps_the_central_figures_and_adds_the_ranges():
    document = _document(emission_record("i-1"), emission_record("i-2", bounded=False))
    first, second = document["resources"]
    # The central figures keep their keys and values
    assert first["energy_kwh"] == pytest.approx(1.0)
    assert document["totals"]["operational_kgco2e"] == pytest.approx(0.8)
    # And each has its range next to it, per resource and in the totals
    assert first["energy_kwh_range"] == pytest.approx({"low": 0.5, "high": 2.0})
    assert second["energy_kwh_range"] == pytest.approx({"low": 1.0, "high": 1.0})
    assert document["totals"]["embodied_kgco2e_range"] == pytest.approx({"low": 0.15, "high": 0.3})
    for figures in (*document["resources"], *document["services"], document["totals"]):
        assert {f"{figure}_range" for figure in FIGURES} <= figures.keys()


def test_the_headline_total_is_operational_plus_embodied_with_their_bounds_added():
    document = _document(emission_record("i-1"), emission_record("i-2", scale=3.0))
    totals = document["totals"]
    # 0.4 + 0.1 kg per unit of scale: 4 x 0.5 kg, bounds 4 x (0.2 + 0.05) and 4 x (0.9 + 0.2)
    assert totals["total_kgco2e"] == pytest.approx(2.0)
    assert totals["total_kgco2e_range"] == pytest.approx({"low": 1.0, "high": 4.4})
    (row,) = document["services"]
    assert row["total_kgco2e"] == pytest.approx(2.0)
    # And the text report starts with it, beside its parts
    text = report.text(report.from_records([emission_record("i-1")], HOUR, HOUR + timedelta(hours=1)), "title")
    headline = text.split("\n\n")[1].splitlines()
    assert [line.split()[0] for line in headline] == ["total", "operational", "embodied", "energy"]
    assert re.fullmatch(r"total CO2e\s+500 \[\s*250, 1,100\] g", headline[0])


def test_a_service_whose_embodied_is_not_modelled_shows_na_and_null_with_its_reason():
    # Given a storage volume (the methodology models no embodied for EBS) beside an instance
    fleet = [
        usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=30),
        usage(Service.EBS, "gp3", resource_id="vol-1", storage_gb=100),
    ]
    found = report.from_records(estimate_all(fleet), HOUR, HOUR + timedelta(hours=1))
    document = report.document(found)
    ebs = next(r for r in document["resources"] if r["service"] == "ebs")
    ec2 = next(r for r in document["resources"] if r["service"] == "ec2")
    # Then the JSON has null, not a certain zero, and says why (the slice's own reason)
    assert ebs["embodied_kgco2e"] is None
    assert ebs["embodied_kgco2e_range"] is None
    assert ebs["embodied_not_modelled"] == SLICES[Service.EBS].embodied_not_modelled
    assert ec2["embodied_kgco2e"] > 0
    assert ec2["embodied_not_modelled"] is None
    # And the totals say what they leave out
    assert document["totals"]["embodied_excludes"] == {"ebs": SLICES[Service.EBS].embodied_not_modelled}
    assert document["totals"]["embodied_kgco2e"] == pytest.approx(ec2["embodied_kgco2e"])
    # And the table shows n/a in the embodied column, with a note naming the service and the reason
    text = report.text(found, "title", per_resource=True)
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith(("ebs ", "ec2 "))}
    assert re.search(r"\] (mg|g|kg) +n/a +[\d.]+ \[", rows["ebs"]), rows["ebs"]
    assert "n/a" not in rows["ec2"]
    assert "0.000000" not in text
    assert re.search(rf"^  ebs\s+{re.escape(SLICES[Service.EBS].embodied_not_modelled or '')}$", text, re.MULTILINE)


def test_an_embodied_figure_a_provider_gives_for_such_a_service_is_shown():
    # Given an S3 record from a provider that does give embodied emissions
    record = emission_record("bucket").model_copy(update={"service": Service.S3, "provider": "http"})
    document = _document(record)
    (row,) = document["resources"]
    # Then its figure stands: "not modelled" is the methodology's zero, not every zero
    assert row["embodied_kgco2e"] == pytest.approx(0.1)
    assert row["embodied_not_modelled"] is None


@pytest.mark.parametrize(
    ("quantity", "value", "shown"),
    [
        ("energy", 0.000001234, "1.23 mWh"),
        ("energy", 0.000000001234, "0.00123 mWh"),
        ("energy", 0.1772, "177 Wh"),
        ("energy", 23.145449, "23.1 kWh"),
        ("energy", 4619.2, "4.62 MWh"),
        ("mass", 0.0000632, "63.2 mg"),
        ("mass", 0.664562, "665 g"),
        ("mass", 2.899828, "2.90 kg"),
        ("mass", 1421.0, "1.42 t"),
        ("mass", 0.0, "0 kg"),
    ],
)
def test_a_figure_shows_three_significant_digits_in_a_unit_that_suits_it(quantity, value, shown):
    cell = report.table(["x"], [[report.Estimate(value, value, value, quantity)]]).splitlines()[2]
    number, unit = shown.split()
    assert cell.split() == [number, f"[{number},", f"{number}]", unit]


def test_the_report_says_what_its_numbers_are():
    # Given an hour of us-east-1
    found = report.from_records([emission_record("i-1")], HOUR, HOUR + timedelta(hours=1))
    text = report.text(found, "title")
    document = report.document(found)
    # Then both say the window and that its end is exclusive, the methodology, the grid factors and the bounds
    assert "2024-03-01T12:00:00Z to 2024-03-01T13:00:00Z (end exclusive), 1 hour(s)" in text
    assert document["window"] == {
        "start": "2024-03-01T12:00:00Z",
        "end": "2024-03-01T13:00:00Z",
        "end_exclusive": True,
        "hours": 1,
    }
    assert "methodology  test" in text
    assert document["versions"]["methodology"] == ["test"]
    assert "location-based factors, g CO2e per kWh: us-east-1 400" in text
    assert document["grid_factors"] == {"basis": "location-based", "kgco2e_per_kwh": {"us-east-1": [0.4]}}
    assert report.BOUNDS in text
    assert document["bounds"] == (
        "every figure at its low, or every figure at its high; bounds, not a confidence interval"
    )


def test_flags_are_counted_per_service_in_a_footnote_and_in_the_json():
    # Given two hours of three Lambda functions without a CPU metric (flagged every hour) and an instance
    fleet = [
        usage(Service.LAMBDA, "arm64", resource_id=f"fn-{n}", memory_mb=512, duration_ms=1000, hour=hour)
        for n in range(3)
        for hour in (HOUR, HOUR + timedelta(hours=1))
    ]
    fleet.append(usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=30))
    found = report.from_records(estimate_all(fleet), HOUR, HOUR + timedelta(hours=2))
    # Then each function counts once, however many hours it was flagged
    flag = {"service": "lambda", "flag": "utilisation_default_50pct", "resources": 3}
    assert {**flag, "meaning": "no CPU measurement: the default 50 % utilisation"} in report.document(found)["flags"]
    line = next(line for line in report.text(found, "t").splitlines() if "utilisation_default_50pct" in line)
    assert re.split(r"\s{2,}", line) == [
        "3 of 3",
        "lambda",
        "utilisation_default_50pct",
        "no CPU measurement: the default 50 % utilisation",
    ]


def test_stored_rollups_count_the_most_resources_flagged_in_any_one_hour():
    # Given two instances flagged in the first hour, and one of them again in the second
    flagged = {"flags": ("capacity_unknown",)}
    hours = (("i-0", 0), ("i-1", 0), ("i-0", 1))
    records = [emission_record(i, hour_offset=h).model_copy(update=flagged) for i, h in hours]
    found = report.from_rollups(rollup(records), HOUR, HOUR + timedelta(hours=2))
    # Then the report counts 2, not 3 resource-hours, and says how it counted
    assert report.document(found)["flags"][0]["resources"] == 2
    assert "the most in any one hour" in report.text(found, "t")


def test_estimate_and_report_print_the_same_json_shape_and_table_columns():
    records = [emission_record("i-1"), emission_record("i-2", hour_offset=1)]
    window = (HOUR, HOUR + timedelta(hours=2))
    estimated = report.document(report.from_records(records, *window))
    stored = report.document(report.from_rollups(rollup(records), *window))
    assert estimated.keys() == stored.keys()
    assert estimated["totals"].keys() == stored["totals"].keys()
    assert estimated["services"][0].keys() == stored["services"][0].keys()
    # The same figures (resources aside: roll-ups count the most in any one hour, here 1 of the 2 instances)
    for key, value in estimated["totals"].items():
        if key == "resources":
            continue
        assert stored["totals"][key] == (pytest.approx(value) if isinstance(value, float) else value), key
    # Stored reports keep roll-ups, not resources
    assert stored["resources"] is None
    assert len(estimated["resources"]) == 2
    # And the tables' figure columns have the same names
    headers = [
        report.text(found, "t", per_resource=per_resource).split("\n\n")[3].splitlines()[0]
        for found, per_resource in (
            (report.from_records(records, *window), True),
            (report.from_rollups(rollup(records), *window), False),
        )
    ]
    for header in headers:
        assert re.split(r"\s{2,}", header)[-4:] == list(report.FIGURE_COLUMNS)


def test_every_builtin_estimate_reports_low_central_high_in_order():
    # Given the builtin methodology's records for a mixed fleet
    fleet = [
        usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=30),
        usage(Service.EC2, "t3.micro", resource_id="i-burst"),
        usage(Service.EBS, "gp3", resource_id="vol-1", storage_gb=100),
        usage(Service.S3, "StandardStorage", resource_id="bucket", storage_gb=2000),
    ]
    document = _document(*estimate_all(fleet))
    # Then every resource and the totals are ordered low <= central <= high, with a real spread of energy
    for figures in (*document["resources"], document["totals"]):
        for figure in (*FIGURES, "total_kgco2e"):
            span = figures[f"{figure}_range"]
            if span is None:
                assert figures[figure] is None
                assert figures["embodied_not_modelled"]
                continue
            assert span["low"] <= figures[figure] <= span["high"], (figures, figure)
        assert figures["energy_kwh_range"]["low"] < figures["energy_kwh_range"]["high"]


def test_tables_show_central_low_high_with_the_numbers_aligned_and_a_note():
    totals = report.by_resource([emission_record("i-1"), emission_record("i-2", scale=20.0)])
    text = report.resource_table(totals)
    lines = text.splitlines()
    assert lines[0].endswith("  total CO2e")
    # central [low, high] unit, each part padded so that the columns of numbers line up
    assert "1.00 [0.500, 2.00] kWh" in lines[2]
    assert "20.0 [ 10.0, 40.0] kWh" in lines[3]
    assert re.search(r"^TOTAL\s.*21\.0 \[ 10\.5, 42\.0\] kWh", lines[4])
    brackets = {line.index("] kWh") for line in lines[2:5]}
    assert len(brackets) == 1
    # And the report adds one line that says how to read them and where the method is
    found = report.from_records([emission_record("i-1")], HOUR, HOUR + timedelta(hours=1))
    assert report.RANGES_NOTE in report.text(found, "t").splitlines()
    assert "docs/methodology.md#uncertainty-low-and-high-bounds" in report.RANGES_NOTE


def test_region_service_table_has_a_range_for_every_row():
    rollups: list[Rollup] = rollup([emission_record("i-1"), emission_record("i-2", bounded=False)])
    text = report.group_table(report.by_region_service(rollups))
    assert "energy" in text.splitlines()[0]
    assert re.search(r"^us-east-1\s+ec2\s+2\.00 \[1\.50, 3\.00\] kWh", text, re.MULTILINE)
    assert re.search(r"^TOTAL\s+2\.00 \[1\.50, 3\.00\] kWh", text, re.MULTILINE)


def test_the_operators_figures_are_a_section_of_their_own():
    counter = ApiCallCounter()
    document = _document(emission_record("i-1"))
    # The analyst's figures carry no API calls; they are under "operations"
    assert "api_calls" not in document
    assert document["operations"] == {"api_calls": {}, "metrics_requested": 0, "cloudwatch_cost_usd": 0.0}
    section = report.operations_text(counter, "For the operator")
    assert section.startswith("For the operator\n\nAPI call")


def test_tables_without_estimates_are_unchanged():
    assert report.table(["API call", "count"], [["sts:AssumeRole", 1], ["TOTAL", 12]]) == (
        "API call        count\n--------------  -----\nsts:AssumeRole      1\nTOTAL              12"
    )


def test_rollups_stored_before_they_kept_flags_and_grid_factors_still_report():
    # Given a roll-up item of the older shape (no flagged_resources, no grid factors)
    (current,) = rollup([emission_record("i-1")])
    older = Rollup.model_validate(current.model_dump(exclude={"flagged_resources", "grid_kgco2e_per_kwh"}))
    found = report.from_rollups([older], HOUR, HOUR + timedelta(hours=1))
    # Then its figures report as before, and the grid line says the factor was not stored
    assert report.document(found)["totals"]["energy_kwh"] == pytest.approx(1.0)
    assert "g CO2e per kWh: us-east-1 not stored" in report.text(found, "t")
    assert report.document(found)["flags"] == []


def test_edge_and_network_is_shown_apart_from_the_data_centres():
    # Given a regional resource and a CloudFront distribution (region ``global``) in the same hour
    server = emission_record("i-1")
    edge = emission_record("E1", scale=3.0).model_copy(update={"region": "global", "service": Service.CLOUDFRONT})
    text = report.group_table(report.by_region_service(rollup([edge, server])))
    rows = [line.split("  ")[0].strip() for line in text.splitlines()[2:]]
    # Then the data-centre rows come first, the edge row after, then each scope's subtotal and the total
    assert rows == ["us-east-1", "global", "data centre", "edge and network", "TOTAL"]
    assert re.search(r"^edge and network\s+3\.00 \[\s*1\.50,\s*6\.00\] kWh", text, re.MULTILINE)
    assert re.search(r"^data centre\s+1\.00 \[\s*0\.5", text, re.MULTILINE)
    # And the JSON labels each resource's and each service row's scope
    document = report.estimate_document([server, edge], ApiCallCounter(), HOUR, HOUR + timedelta(hours=1))
    assert {(r["resource_id"], r["scope"]) for r in document["resources"]} == {
        ("i-1", "data centre"),
        ("E1", "edge and network"),
    }
    assert {(r["region"], r["scope"]) for r in document["services"]} == {
        ("us-east-1", "data centre"),
        ("global", "edge and network"),
    }
