"""The export's presenters: CSV with every figure's bounds, the methodology and the flags; JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from carbonmeter.insights import export
from carbonmeter.periods import Figure, Granularity, GroupBy
from carbonmeter.series import FootprintRow

DAY = datetime(2026, 11, 30, tzinfo=UTC)


def _row(service: str = "ec2", **overrides) -> FootprintRow:
    fields = {
        "period_start": DAY,
        "granularity": Granularity.DAY,
        "group_by": GroupBy.RESOURCE,
        "group": f"{service}/us-east-1/r-1",
        "service": service,
        "region": "us-east-1",
        "resource_id": "r-1",
        "resource_types": ("standard", "glacier"),
        "resources": 1,
        "hours_covered": 15,
        "hours_in_period": 24,
        "energy_kwh": Figure(central=1.0, low=0.5, high=2.0),
        "operational_kgco2e": Figure(central=0.4, low=0.2, high=0.9),
        "embodied_kgco2e": Figure(central=0.1, low=0.05, high=0.2),
        "methodology_versions": ("2026.1",),
        "flags": ("cpu_default", "grid_factor_world_average"),
    }
    fields.update(overrides)
    return FootprintRow(**fields)


def test_csv_has_a_header_of_central_low_and_high_figures_methodology_and_flags():
    text = "".join(export.csv_lines([_row()]))
    (record,) = list(csv.DictReader(io.StringIO(text)))
    assert list(record) == list(export.COLUMNS)
    for name in ("energy_kwh", "operational_kgco2e", "embodied_kgco2e"):
        assert {f"{name}", f"{name}_low", f"{name}_high"} <= record.keys()
    assert (record["energy_kwh"], record["energy_kwh_low"], record["energy_kwh_high"]) == ("1.0", "0.5", "2.0")
    assert record["operational_kgco2e_high"] == "0.9"
    assert record["methodology_version"] == "2026.1"
    assert record["flags"] == "cpu_default;grid_factor_world_average"
    assert record["period_start"] == "2026-11-30T00:00:00Z"
    assert (record["hours_covered"], record["hours_in_period"]) == ("15", "24")
    assert record["resource_types"] == "standard;glacier"


def test_csv_says_why_a_service_has_no_embodied_figure():
    (record,) = csv.DictReader(io.StringIO("".join(export.csv_lines([_row("s3")]))))
    assert record["embodied_not_modelled"]
    (record,) = csv.DictReader(io.StringIO("".join(export.csv_lines([_row("ec2")]))))
    assert record["embodied_not_modelled"] == ""


def test_csv_quotes_a_resource_id_holding_a_comma():
    row = _row(resource_id='odd,"id"', group='ec2/us-east-1/odd,"id"')
    (record,) = csv.DictReader(io.StringIO("".join(export.csv_lines([row]))))
    assert record["resource_id"] == 'odd,"id"'


def test_csv_yields_its_header_before_any_row_is_read():
    def rows():
        raise AssertionError("read too early")
        yield  # pragma: no cover

    lines = export.csv_lines(rows())
    assert next(lines).startswith("period_start,granularity,by,group,")


def test_json_lines_one_object_a_row_with_figures_as_central_low_high():
    lines = list(export.json_lines([_row(), _row(period_start=DAY.replace(day=29))]))
    assert len(lines) == 2
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    first = json.loads(lines[0])
    assert first["energy_kwh"] == {"central": 1.0, "low": 0.5, "high": 2.0}
    assert first["methodology_versions"] == ["2026.1"]
    assert first["flags"] == ["cpu_default", "grid_factor_world_average"]
    assert first["by"] == "resource"
    assert first["embodied_not_modelled"] is None
    assert json.loads(lines[1])["period_start"] == "2026-11-29T00:00:00Z"


@pytest.mark.parametrize("export_format", list(export.ExportFormat))
def test_no_rows_is_a_header_alone_or_nothing(export_format):
    out = "".join(export.lines([], export_format))
    assert out == ("" if export_format is export.ExportFormat.JSON else ",".join(export.COLUMNS) + "\n")
