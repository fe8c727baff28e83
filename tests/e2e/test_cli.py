"""``python -m carbonmeter estimate`` against the embedded AWS, as a user runs it before deploying."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from carbonmeter import cli, report
from carbonmeter.aws import ClientFactory
from carbonmeter.models import Service
from tests.support.aws_hooks import deny_assume_role
from tests.support.local_cloud import estimate_args
from tests.support.report_text import ESTIMATES

ROOT = Path(__file__).parents[2]
FIGURES = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e")


def test_estimate_json_covers_every_resource_with_figures_and_call_counts(local_cloud, capsys):
    # Given a seeded account
    cloud = local_cloud(hours=2)
    # When a user estimates two hours as JSON
    assert cli.main(estimate_args(cloud, "--format", "json")) == 0
    document = json.loads(capsys.readouterr().out)
    # Then every resource of every service and region is there, for both hours
    resources = document["resources"]
    for region in cloud.account.resources:  # the regions, and ``global`` (CloudFront)
        for service in Service:
            found = {r["resource_id"] for r in resources if r["region"] == region and r["service"] == service}
            assert found == set(cloud.account.resources[region][service]), (region, service)
    for resource in resources:
        assert {"resource_type", "hours", "energy_kwh", "operational_kgco2e", "embodied_kgco2e"} <= resource.keys()
    # (each a whole two hours but, in each region, the demo's instance started 30 minutes into the first and the one
    # terminated 20 minutes into the last)
    partial = [r for r in resources if r["hours"] != pytest.approx(2.0)]
    regions = len(cloud.account.regions)
    assert sorted(r["hours"] for r in partial) == pytest.approx([1 + 1 / 3] * regions + [1.5] * regions)
    assert {r["service"] for r in partial} == {Service.EC2}
    # And every resource has an estimate with its range: low <= central <= high, a real spread where it uses energy
    for resource in resources:
        for figure in FIGURES:
            span = resource[f"{figure}_range"]
            if span is None:  # not modelled (embodied of EBS, S3, Lambda): null with the reason
                assert resource[figure] is None, resource
                assert resource["embodied_not_modelled"], resource
                continue
            assert span["low"] <= resource[figure] <= span["high"], (resource["resource_id"], figure)
        if resource["energy_kwh"] > 0:
            assert resource["energy_kwh_range"]["low"] < resource["energy_kwh_range"]["high"], resource
            assert resource["operational_kgco2e_range"]["low"] < resource["operational_kgco2e_range"]["high"]
    # And the totals, central figures and bounds, are the sums of the resources
    for figure in FIGURES:
        assert document["totals"][figure] == pytest.approx(sum(r[figure] or 0.0 for r in resources))
        for end in ("low", "high"):
            expected = sum(r[f"{figure}_range"][end] for r in resources if r[f"{figure}_range"])
            assert document["totals"][f"{figure}_range"][end] == pytest.approx(expected)
    assert document["totals"]["energy_kwh"] > 0
    # And the headline total is operational + embodied; services the methodology gives no embodied are left out
    totals = document["totals"]
    assert totals["total_kgco2e"] == pytest.approx(totals["operational_kgco2e"] + totals["embodied_kgco2e"])
    assert set(totals["embodied_excludes"]) == {r["service"] for r in resources if r["embodied_kgco2e"] is None}
    assert document["window"]["hours"] == 2
    # And every AWS call is counted, in the operator's section; GetMetricData stays at its minimum: the demo
    # fleet is far below 500 queries and each metric is read once over the whole window, so one request per
    # region and period group (hourly metrics, S3's daily one), whatever the number of hours, and one for the
    # global services
    calls = document["operations"]["api_calls"]
    assert calls["sts:AssumeRole"] == 1
    assert calls["monitoring:GetMetricData"] == len(cloud.account.regions) * 2 + 1
    assert document["operations"]["metrics_requested"] > 0


def test_estimate_writes_nothing(local_cloud, capsys):
    cloud = local_cloud(hours=1)
    dynamodb = cloud.clients.client("dynamodb")
    assert cli.main(estimate_args(cloud, "--format", "table")) == 0
    output = capsys.readouterr().out
    analyst, operator = output.split("\nFor the operator: ")
    assert "TOTAL" in analyst
    assert "monitoring:GetMetricData" in operator
    assert "monitoring:" not in analyst
    # And the resource table gives every resource, and the total, its four figures as central [low, high] unit
    rows = next(part for part in analyst.split("\n\n") if part.startswith("service")).splitlines()[2:]
    for row in rows:
        assert re.search(rf"\s{ESTIMATES}$", row), row
    assert rows[-1].startswith("TOTAL")
    assert {row.split()[2] for row in rows[:-1]} == {
        resource_id for services in cloud.account.resources.values() for ids in services.values() for resource_id in ids
    }
    assert report.RANGES_NOTE in output
    for table in (cloud.settings.usage_table, cloud.settings.emissions_table, cloud.settings.connections_table):
        assert dynamodb.scan(TableName=table)["Count"] == 0


def test_a_role_that_cannot_be_assumed_is_one_line_and_a_non_zero_exit(local_cloud, capsys, monkeypatch):
    cloud = local_cloud(hours=1)
    monkeypatch.setattr(
        cli, "ClientFactory", functools.partial(ClientFactory, hooks=[deny_assume_role("CarbonMeterReadOnly")])
    )
    assert cli.main(estimate_args(cloud)) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    refusal = "AccessDenied: User is not authorized to perform: sts:AssumeRole"
    assert err == [f"error: cannot assume {cloud.account.role_arn}: {refusal}"]


def test_the_module_runs_as_a_command(local_cloud):
    # The documented entry point, in a separate process that only has the environment to go on.
    cloud = local_cloud(hours=1)
    result = subprocess.run(
        [sys.executable, "-m", "carbonmeter", *estimate_args(cloud, "--format", "json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={name: value for name, value in os.environ.items() if name != "PYTHONPATH"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["energy_kwh"] > 0
    assert "collecting 3 region(s) x 1 hour(s)" in result.stderr
