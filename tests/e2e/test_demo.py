"""``make demo`` is the first thing a new user runs: it must print the whole report."""

from __future__ import annotations

import re

import pytest

from carbonmeter.local import demo
from carbonmeter.models import Service


@pytest.mark.usefixtures("enforce_cloudwatch_limits")
def test_demo_runs_every_hour_and_reports_each_region_and_service(capsys):
    # When the demo runs over three hours of its seeded account
    assert demo.main(["--hours", "3"]) == 0
    out, err = capsys.readouterr()
    # Then each hour went through the three functions without a failure
    assert len(re.findall(r"collected 1, calculated 1, failed 0", err)) == 3
    # And the report has a row per region and service with non-zero energy, and a total
    for region in demo.DEFAULT_REGIONS:
        for service in Service:
            row = re.search(rf"^{region}\s+{service.value}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.MULTILINE)
            assert row, f"no row for {region} {service}"
            assert float(row.group(1)) > 0
    assert re.search(r"^TOTAL\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE)
    # And it says what the API calls were and what the metrics would cost
    assert re.search(r"^monitoring:GetMetricData\s+18$", out, re.MULTILINE)  # 3 hours x 3 regions x 2 period groups
    assert re.search(r"CloudWatch metrics requested: [\d,]+ \(GetMetricData bills these: USD \d+\.\d{4}", out)
