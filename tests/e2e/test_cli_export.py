"""``carbonmeter export`` and ``report --group-by resource`` on hours the pipeline collected and calculated."""

from __future__ import annotations

import csv
import io
import json

import pytest

from carbonmeter import cli
from carbonmeter.models import HOUR, Service, hour_key
from carbonmeter.store import EmissionStore
from tests.support.local_cloud import CONNECTION, register


@pytest.fixture
def calculated(local_cloud, handlers_on):
    """The demo account, registered, with two hours through scheduler, collector and calculator."""
    cloud = local_cloud(hours=2)
    register(cloud)
    with handlers_on(cloud):
        for hour in cloud.hours:
            cloud.pipeline.run_hour(hour)
    return cloud


def _window(cloud) -> list[str]:
    return ["--start", hour_key(cloud.hours[0]), "--end", hour_key(cloud.hours[-1] + HOUR)]


def test_export_by_resource_writes_every_resource_hour_with_bounds_methodology_and_flags(calculated, tmp_path, capsys):
    cloud = calculated
    out = tmp_path / "footprint.csv"
    # When the operator exports the two hours by resource to a file
    args = ["export", "--connection-id", CONNECTION, *_window(cloud), "--granularity", "hour", "--by", "resource"]
    assert cli.main([*args, "--output", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    # Then every stored record is there, one row per resource and hour, with the same central figure and bounds
    emissions = EmissionStore(cloud.clients, cloud.settings.emissions_table)
    for hour in cloud.hours:
        stored = emissions.read_hour(CONNECTION, hour)
        of_hour = [row for row in rows if row["period_start"] == hour_key(hour)]
        assert {row["resource_id"] for row in of_hour} == {record.resource_id for record in stored}
        assert sum(float(row["energy_kwh"]) for row in of_hour) == pytest.approx(sum(r.energy_kwh for r in stored))
        high = sum(r.energy_kwh_range.high for r in stored if r.energy_kwh_range)
        assert sum(float(row["energy_kwh_high"]) for row in of_hour) == pytest.approx(high)
    assert all(row["methodology_version"] for row in rows)
    assert any(row["flags"] for row in rows)
    # And the summary goes to stderr, never into the data
    assert f"exported {len(rows):,} row(s) to {out}" in capsys.readouterr().err
    assert not (tmp_path / "footprint.csv.partial").exists()


def test_export_by_service_as_json_lines_on_stdout(calculated, capsys):
    cloud = calculated
    args = ["export", "--connection-id", CONNECTION, *_window(cloud), "--granularity", "hour", "--by", "service"]
    assert cli.main([*args, "--format", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    documents = [json.loads(line) for line in lines]
    assert len(documents) == len(cloud.hours) * len(Service)
    assert {d["service"] for d in documents} == {s.value for s in Service}
    for document in documents:
        figure = document["operational_kgco2e"]
        assert figure["low"] <= figure["central"] <= figure["high"]


def test_report_by_resource_names_every_resource_the_account_holds(calculated, capsys):
    cloud = calculated
    args = ["report", "--connection-id", CONNECTION, *_window(cloud), "--granularity", "hour"]
    assert cli.main([*args, "--group-by", "resource", "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    groups = {point["group"] for point in found["series"]}
    for region, services in cloud.account.resources.items():
        for service, resources in services.items():
            assert {f"{service}/{region}/{resource}" for resource in resources} <= groups
    assert (found["hours_covered"], found["hours_in_range"]) == (2, 2)
    # And the table presents the same series
    assert cli.main([*args, "--group-by", "resource"]) == 0
    assert "2 of 2 hour(s) calculated" in capsys.readouterr().out


def test_an_export_by_day_off_midnight_is_one_error_line_and_writes_no_file(calculated, tmp_path, capsys):
    cloud = calculated
    out = tmp_path / "day.csv"
    args = ["export", "--connection-id", CONNECTION, *_window(cloud), "--granularity", "day", "--output", str(out)]
    assert cli.main(args) == cli.EXIT_USAGE
    error = capsys.readouterr().err
    # The two hours' window is off midnight at one end at least: at its start, unless it starts at midnight
    off = "end" if cloud.hours[0].hour == 0 else "start"
    assert error.startswith(f"error: day granularity: {off} must be midnight UTC")
    assert len(error.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
