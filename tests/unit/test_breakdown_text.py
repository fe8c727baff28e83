"""`report --breakdown`'s text: the window's totals and coverage, then one row per group, largest first."""

from __future__ import annotations

from datetime import UTC, datetime

from carbonmeter import report
from carbonmeter.periods import Breakdown, Figure, GroupBy, GroupTotal


def _group(name: str, kg: float) -> GroupTotal:
    figure = Figure(central=kg, low=kg / 2, high=kg * 2)
    return GroupTotal(group=name, energy_kwh=figure, operational_kgco2e=figure, embodied_kgco2e=Figure())


def test_the_breakdown_text_gives_the_totals_the_coverage_and_each_group_in_order():
    groups = (_group("ec2", 3.0), _group("s3", 1.0))
    found = Breakdown(
        start=datetime(2026, 11, 1, tzinfo=UTC),
        end=datetime(2026, 11, 2, 5, tzinfo=UTC),
        group_by=GroupBy.SERVICE,
        totals={
            "energy_kwh": Figure(central=4.0),
            "operational_kgco2e": Figure(central=4.0),
            "embodied_kgco2e": Figure(),
        },
        groups=groups,
        hours_covered=20,
        hours_in_range=29,
    )
    lines = report.breakdown_text(found, "by service").splitlines()
    assert lines[0] == "by service"
    assert "total CO2e     4.00" in lines[2]
    assert "(end exclusive); 20 of 29 hour(s) calculated" in lines[5]
    rows = [line.split()[0] for line in lines if line.startswith(("ec2", "s3"))]
    assert rows == ["ec2", "s3"]
