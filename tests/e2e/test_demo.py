"""``make demo`` is the first thing a new user runs: it must print the whole report."""

from __future__ import annotations

import re

import pytest

from carbonmeter import report
from carbonmeter.models import Service
from devtools import demo
from tests.support.report_text import ESTIMATES


def _estimates(row: re.Match[str]) -> list[tuple[float, float, float]]:
    """(central, low, high) of energy, operational and embodied emissions."""
    values = [float(v.replace(",", "")) for v in row.groups()]
    return [(values[i], values[i + 1], values[i + 2]) for i in range(0, len(values), 3)]


@pytest.mark.usefixtures("enforce_cloudwatch_limits")
def test_demo_runs_every_hour_and_reports_each_region_and_service(capsys):
    # When the demo runs over three hours of its seeded account
    assert demo.main(["--hours", "3"]) == 0
    out, err = capsys.readouterr()
    # Then each hour went through the three functions without a failure
    assert len(re.findall(r"collected 1, calculated 1, failed 0", err)) == 3
    # And the report has a row per region and service with non-zero energy, each figure with its range, and a total
    for region in demo.DEFAULT_REGIONS:
        for service in Service:
            row = re.search(rf"^{region}\s+{service.value}\s+{ESTIMATES}$", out, re.MULTILINE)
            assert row, f"no row for {region} {service}"
            figures = _estimates(row)
            for central, low, high in figures:
                assert low <= central <= high, (region, service, figures)
            (energy, energy_low, energy_high), *_ = figures
            assert energy > 0
            assert energy_low < energy_high
    assert re.search(rf"^TOTAL\s+{ESTIMATES}$", out, re.MULTILINE)
    # And one line says how to read the ranges, under a table narrow enough for a terminal
    assert report.RANGES_NOTE in out.splitlines()
    assert max(len(line) for line in out.split("\n\nAWS API calls")[0].splitlines()) <= 130
    # And it says what the API calls were and what the metrics would cost
    assert re.search(r"^monitoring:GetMetricData\s+18$", out, re.MULTILINE)  # 3 hours x 3 regions x 2 period groups
    assert re.search(r"CloudWatch metrics requested: [\d,]+ \(GetMetricData bills these: USD \d+\.\d{4}", out)
    # And every call the functions made was authorized against their deployed policies, none refused
    assert re.search(r"^IAM: [1-9][\d,]* calls by the functions authorized .*, 0 refused$", out, re.MULTILINE)
