"""``make demo`` is the first thing a new user runs: it must print the whole report."""

from __future__ import annotations

import re

import pytest

from carbonmeter import report
from carbonmeter.emissions.methodology import METHODOLOGY_VERSION
from carbonmeter.models import GLOBAL_REGION
from carbonmeter.services import GLOBAL_SERVICES, REGIONAL_SERVICES, SLICES
from devtools import demo
from tests.support.report_text import ESTIMATES


def _estimates(row: re.Match[str]) -> list[tuple[float, float, float] | None]:
    """(central, low, high) of energy, operational, embodied and total emissions; None for "n/a"."""
    groups = row.groups()
    cells = [groups[i : i + 4] for i in range(0, len(groups), 4)]
    return [None if na else tuple(float(v.replace(",", "")) for v in (c, lo, hi)) for c, lo, hi, na in cells]


@pytest.mark.usefixtures("enforce_cloudwatch_limits")
def test_demo_runs_every_hour_and_reports_each_region_and_service(capsys):
    # When the demo runs over three hours of its seeded account
    assert demo.main(["--hours", "3"]) == 0
    out, err = capsys.readouterr()
    # Then each hour went through the three functions without a failure
    assert len(re.findall(r"collected 1, calculated 1, failed 0", err)) == 3
    # And the report has a row per region and service with non-zero energy, each figure with its range, and a total
    areas = dict.fromkeys(demo.DEFAULT_REGIONS, REGIONAL_SERVICES) | {GLOBAL_REGION: GLOBAL_SERVICES}
    for region, services in areas.items():
        for service in services:
            row = re.search(rf"^{region}\s+{service.value}\s+{ESTIMATES}$", out, re.MULTILINE)
            assert row, f"no row for {region} {service}"
            figures = _estimates(row)
            # Embodied is "n/a" exactly where the service's slice says the methodology does not model it
            assert (figures[2] is None) is (SLICES[service].embodied_not_modelled is not None), (region, service)
            for central, low, high in filter(None, figures):
                assert low <= central <= high, (region, service, figures)
            (energy, energy_low, energy_high), *_ = figures  # type: ignore[misc]
            assert energy > 0
            assert energy_low < energy_high
    assert re.search(rf"^TOTAL\s+{ESTIMATES}$", out, re.MULTILINE)
    analyst, operator = out.split("\nFor the operator: ")
    # And it opens with the headline total, then says what the figures are
    assert re.search(r"^total CO2e\s+[\d.,]+ \[", analyst, re.MULTILINE)
    assert "(end exclusive), 3 hour(s)" in analyst
    assert f"methodology  {METHODOLOGY_VERSION}" in analyst
    assert report.BOUNDS in analyst
    # And one line says how to read the ranges, under a table narrow enough for a terminal (140 columns, the
    # "edge and network" scope row included)
    assert report.RANGES_NOTE in analyst.splitlines()
    table = next(part for part in analyst.split("\n\n") if part.startswith("region"))
    assert max(len(line) for line in table.splitlines()) <= 140
    # And the flags are counted (the demo's Lambda functions publish no CPU metric)
    assert re.search(r"^\d+ of \d+\s+lambda\s+utilisation_default_50pct\s", analyst, re.MULTILINE)
    # And, apart, what the API calls were and what the metrics would cost
    assert "monitoring:GetMetricData" not in analyst
    # 3 hours x (3 regions x 2 period groups + the global services' one)
    assert re.search(r"^monitoring:GetMetricData\s+21$", operator, re.MULTILINE)
    # And the global services' edge and network are reported apart from the data centres
    assert re.search(rf"^data centre\s+{ESTIMATES}$", analyst, re.MULTILINE)
    assert re.search(rf"^edge and network\s+{ESTIMATES}$", analyst, re.MULTILINE)
    assert re.search(r"CloudWatch metrics requested: [\d,]+ \(GetMetricData bills these: USD \d+\.\d{4}", out)
    # And every call the functions made was authorized against their deployed policies, none refused
    assert re.search(r"^IAM: [1-9][\d,]* calls by the functions authorized .*, 0 refused$", out, re.MULTILINE)


@pytest.mark.slow
@pytest.mark.usefixtures("enforce_cloudwatch_limits")
def test_the_readme_sample_is_what_the_demo_prints_at_its_hour():
    # When the default demo runs ending at the README's hour
    sample = demo.readme_sample()
    # Then the README shows exactly what it printed, so that the sample cannot go stale
    # (after a change to the demo or the methodology: `python -m devtools.demo --readme`)
    assert demo.readme_sample_in(demo.README.read_text(encoding="utf-8")) == sample
