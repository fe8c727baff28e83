"""Cost beside carbon and AWS's own figures against moto: Cost Explorer's queued results, the stores, the
scheduler's insight runs and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from moto import mock_aws

from carbonmeter import cli, periods
from carbonmeter.aws import ClientFactory
from carbonmeter.insights.costs import CostStore, collect_costs, cost_insight, cost_request
from carbonmeter.insights.reconciliation import LBM, AwsCarbonLine, AwsCarbonMonth, AwsCarbonStore, reconcile
from carbonmeter.models import Connection, CostJob, Rollup, Service
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore
from devtools.aws.lambda_events import LambdaContext
from devtools.aws.resources import create_resources
from functions.scheduler.handler import handler as scheduler_handler

ACCOUNT = "123456789012"
NOW = datetime(2026, 12, 1, 6, 20, tzinfo=UTC)
CE_QUEUE = "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results"


@pytest.fixture
def deployed(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        settings = create_resources(factory, factory.settings)
        factory = ClientFactory(settings=settings)
        connections = ConnectionStore(factory, settings.connections_table)
        for name, enabled in (("acme", True), ("idle", False)):
            connections.put(
                Connection(
                    connection_id=name,
                    role_arn=f"arn:aws:iam::{ACCOUNT}:role/CarbonMeterReadOnly",
                    external_id=f"ext-{name}",
                    regions=("us-east-1",),
                    services=(Service.EC2, Service.S3),
                    enabled=enabled,
                )
            )
        yield factory


def _groups(*lines: tuple[str, str, float]) -> list[dict]:
    return [
        {"Keys": [service, region], "Metrics": {"UnblendedCost": {"Amount": str(usd), "Unit": "USD"}}}
        for service, region, usd in lines
    ]


def _day(day: date, *lines: tuple[str, str, float], estimated: bool = False) -> dict:
    end = day + timedelta(days=1)
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": end.isoformat()},
        "Total": {},
        "Groups": _groups(*lines),
        "Estimated": estimated,
    }


def _queue(*results: dict) -> None:
    # moto answers each distinct request with the next queued result, and the same request with the same one.
    assert requests.post(CE_QUEUE, json={"results": list(results)}, timeout=5).status_code == 201


def test_a_cost_job_stores_each_day_and_a_later_run_revises_the_days_again(deployed):
    # Given Cost Explorer's answer for 28-29 November, the 29th still estimated
    first = {
        "ResultsByTime": [
            _day(date(2026, 11, 28), ("Amazon Elastic Compute Cloud - Compute", "us-east-1", 10.0)),
            _day(date(2026, 11, 29), ("Amazon Elastic Compute Cloud - Compute", "us-east-1", 4.0), estimated=True),
        ]
    }
    # and the next day's answer, in which AWS has revised the 29th
    revised = {
        "ResultsByTime": [
            _day(date(2026, 11, 29), ("Amazon Elastic Compute Cloud - Compute", "us-east-1", 9.5)),
            _day(date(2026, 11, 30), ("Amazon CloudWatch", "us-east-1", 1.0), estimated=True),
        ]
    }
    _queue(first, revised)
    settings = deployed.settings
    # When the collector runs the two jobs
    collect_costs(
        CostJob(connection_id="acme", first_day=date(2026, 11, 28), end_day=date(2026, 11, 30)),
        deployed,
        settings,
        NOW,
    )
    collect_costs(
        CostJob(connection_id="acme", first_day=date(2026, 11, 29), end_day=date(2026, 12, 1)),
        deployed,
        settings,
        NOW,
    )
    # Then every day is stored once, the 29th as revised, and each request was counted
    days = CostStore(deployed, settings.usage_table).days("acme", date(2026, 11, 1), date(2026, 12, 1))
    assert [(d.day.isoformat(), [line.usd for line in d.lines], d.estimated) for d in days] == [
        ("2026-11-28", [10.0], False),
        ("2026-11-29", [9.5], False),
        ("2026-11-30", [1.0], True),
    ]
    assert deployed.counter.calls["ce:GetCostAndUsage"] == 2


def test_cost_beside_carbon_reads_the_stored_days_and_the_day_roll_ups(deployed):
    settings = deployed.settings
    day = datetime(2026, 11, 29, tzinfo=UTC)
    emissions = EmissionStore(deployed, settings.emissions_table)
    for hour in (day, day + timedelta(hours=1)):
        rollup = Rollup(
            connection_id="acme",
            hour=hour,
            region="us-east-1",
            service=Service.EC2,
            resources=2,
            energy_kwh=4.0,
            operational_kgco2e=1.5,
            embodied_kgco2e=0.5,
            methodology_version="1.2",
        )
        emissions.replace_hour("acme", hour, [], [rollup])
        periods.refresh_periods(emissions, "acme", hour)
    _queue(
        {
            "ResultsByTime": [
                _day(
                    date(2026, 11, 29),
                    ("Amazon Elastic Compute Cloud - Compute", "us-east-1", 8.0),
                    ("AWS Glue", "us-east-1", 2.0),
                )
            ]
        }
    )
    collect_costs(
        CostJob(connection_id="acme", first_day=date(2026, 11, 29), end_day=date(2026, 11, 30)), deployed, settings, NOW
    )

    found = cost_insight(deployed, settings, "acme", date(2026, 11, 29), date(2026, 11, 30))

    (row,) = found.rows
    assert (row.service, row.region, row.kgco2e, row.usd) == ("ec2", "us-east-1", 4.0, 8.0)
    assert row.kgco2e_per_usd == pytest.approx(0.5)
    assert found.coverage.metered_share == pytest.approx(0.8)
    assert [u.aws_service for u in found.coverage.unmetered] == ["AWS Glue"]
    assert (found.hours_calculated, found.hours_in_window) == (2, 24)


def test_the_daily_rule_queues_a_cost_job_for_each_enabled_connection(deployed):
    event = {"insight": "costs", "time": "2026-12-01T06:20:00Z"}
    with use_runtime(Runtime(settings=deployed.settings, clients=deployed, clock=lambda: NOW)):
        assert scheduler_handler(event, LambdaContext(function_name="carbonmeter-scheduler")) == {
            "insight": "costs",
            "jobs": 1,
        }
    sqs = deployed.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=deployed.settings.collect_queue_url)["Messages"]
    assert json.loads(message["Body"]) == {
        "kind": "cost",
        "connection_id": "acme",
        "first_day": "2026-11-24",
        "end_day": "2026-12-01",
    }
    # The request the collector will make is one Cost Explorer accepts (moto would take any).
    assert cost_request(date(2026, 11, 24), date(2026, 12, 1), NOW.date())["GroupBy"]


def test_the_monthly_rule_skips_a_stored_month_and_queues_it_until_then(deployed):
    settings = deployed.settings
    context = LambdaContext(function_name="carbonmeter-scheduler")
    event = {"insight": "reconciliation", "time": "2026-11-22T06:40:00Z"}
    clock = datetime(2026, 11, 22, 6, 40, tzinfo=UTC)
    with use_runtime(Runtime(settings=settings, clients=deployed, clock=lambda: clock)):
        assert scheduler_handler(event, context)["jobs"] == 1
        AwsCarbonStore(deployed, settings.usage_table).put(_october())
        assert scheduler_handler(event, context)["jobs"] == 0


def _october() -> AwsCarbonMonth:
    lines = (AwsCarbonLine(aws_service="AmazonEC2", region="us-east-1", kgco2e={LBM: 8.0}),)
    return AwsCarbonMonth(connection_id="acme", month="2026-10", model_version="v3.0.0", lines=lines, fetched_at=NOW)


def test_the_stored_month_reads_back_beside_carbonmeters(deployed, capsys, monkeypatch):
    settings = deployed.settings
    AwsCarbonStore(deployed, settings.usage_table).put(_october())

    found = reconcile(deployed, settings, "acme", "2026-10")

    assert found.model_version == "v3.0.0"
    assert found.scopes[0].aws_kg == pytest.approx(8.0)
    assert found.hours_in_month == 744
    # and the CLI prints it with the known causes of the difference
    _point_the_cli_at(deployed, monkeypatch)
    assert cli.main(["reconcile", "--connection-id", "acme", "--month", "2026-10"]) == 0
    printed = capsys.readouterr().out
    assert "0 of 744 hour(s) of the month calculated" in printed
    assert "Known causes of the difference:" in printed
    assert "market-based" in printed


def test_the_cli_lists_the_unmetered_services_by_spend(deployed, capsys, monkeypatch):
    _queue(
        {
            "ResultsByTime": [
                _day(date(2026, 11, 29), ("Amazon Simple Storage Service", "us-east-1", 3.0), ("Tax", "NoRegion", 1.0))
            ]
        }
    )
    collect_costs(
        CostJob(connection_id="acme", first_day=date(2026, 11, 29), end_day=date(2026, 11, 30)),
        deployed,
        deployed.settings,
        NOW,
    )
    _point_the_cli_at(deployed, monkeypatch)

    assert cli.main(["costs", "--connection-id", "acme", "--start", "2026-11-29", "--end", "2026-11-30"]) == 0
    printed = capsys.readouterr().out
    assert "USD 3.00 (75% of the spend)" in printed
    assert "Not metered by CarbonMeter" in printed
    assert "Tax" in printed.split("Not metered by CarbonMeter")[1]


def _point_the_cli_at(deployed, monkeypatch) -> None:
    for field in ("connections_table", "usage_table", "emissions_table"):
        monkeypatch.setenv(Settings.env_name(field), getattr(deployed.settings, field))


def test_the_cli_says_in_one_line_when_no_month_is_stored(deployed, capsys, monkeypatch):
    _point_the_cli_at(deployed, monkeypatch)

    assert cli.main(["reconcile", "--connection-id", "acme", "--month", "2026-09"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: no AWS figures stored for acme 2026-09")
    assert error.count("\n") == 1
    with pytest.raises(SystemExit) as refused:
        cli.main(["reconcile", "--connection-id", "acme", "--month", "2026-13"])
    assert refused.value.code == 2
    assert "is not a month (YYYY-MM" in capsys.readouterr().err
