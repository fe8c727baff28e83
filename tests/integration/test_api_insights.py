"""The status and insight routes through the real handler (moto): the CLI's figures, their parameters checked."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from carbonmeter import cli
from carbonmeter.aws import ClientFactory
from carbonmeter.insights.anomalies.detection import Direction, Kind, Method
from carbonmeter.insights.anomalies.records import Anomaly, HourFigures
from carbonmeter.insights.costs import CostLine, CostStore, DayCost
from carbonmeter.insights.reconciliation import LBM, AwsCarbonLine, AwsCarbonMonth, AwsCarbonStore
from carbonmeter.models import VIEW_ATTRIBUTES, Service, hour_key
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.store import AnomalyStore, StatusStore
from tests.support.api import (
    END,
    GLOBEX,
    START,
    TableReads,
    api_deployment,
    get,
    window,
)

NOW = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)
BASE = "/api/v1/connections/acme-prod"
ANOMALY = Anomaly(
    connection_id="acme-prod",
    region="eu-west-1",
    service=Service.EC2,
    kind=Kind.EMISSIONS,
    direction=Direction.UP,
    start=START + timedelta(hours=14),
    end=START + timedelta(hours=18),
    method=Method.HOUR_OF_DAY,
    hours={hour_key(START + timedelta(hours=14)): HourFigures(expected=1.0, observed=3.0, z=5.2)},
)


@pytest.fixture(scope="module")
def deployed():
    # One store for the module: every test here reads it, none writes.
    with api_deployment(NOW) as clients:
        settings = clients.settings
        # The hour after the figures: one scope failed
        StatusStore(clients, settings.usage_table).record(
            "acme-prod", END, ["us-east-1/ec2"], {"eu-west-1/ec2": "Throttling"}, {}
        )
        spend = (
            CostLine(aws_service="Amazon Elastic Compute Cloud - Compute", region="us-east-1", usd=4.0),
            CostLine(aws_service="Amazon Simple Queue Service", region="us-east-1", usd=1.0),
        )
        CostStore(clients, settings.usage_table).put_days(
            [
                DayCost(connection_id="acme-prod", day=day, fetched_at=NOW, lines=spend)
                for day in (date(2026, 11, 1), date(2026, 11, 2))
            ]
        )
        lines = (AwsCarbonLine(aws_service="AmazonEC2", region="us-east-1", kgco2e={LBM: 8.0}),)
        AwsCarbonStore(clients, settings.usage_table).put(
            AwsCarbonMonth(
                connection_id="acme-prod", month="2026-11", model_version="v3.0.0", lines=lines, fetched_at=NOW
            )
        )
        AnomalyStore(clients, settings.emissions_table).put_new(ANOMALY)
        yield clients


def _cli(capsys, *args: str):
    capsys.readouterr()
    assert cli.main([*args, "--connection-id", "acme-prod", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_status_gives_each_hour_of_the_range_with_what_its_collection_got(deployed):
    found = get(f"{BASE}/status", window(START, END + timedelta(hours=2))).json()
    assert (found["hours_complete"], found["hours_in_range"]) == (48, 50)
    assert [hour["state"] for hour in found["hours"][-3:]] == ["complete", "incomplete", "not collected"]
    failed = found["hours"][-2]
    assert failed["hour"] == "2026-11-03T00:00:00Z"
    assert failed["failed"] == {"eu-west-1/ec2": "Throttling"}
    assert found["hours"][0]["calculated"] is True


def test_the_cost_is_the_cli_costs_figures(deployed, capsys):
    found = get(f"{BASE}/cost", window()).json()
    assert found == _cli(capsys, "costs", "--start", "2026-11-01", "--end", "2026-11-03")
    assert found["coverage"]["total_usd"] == 10.0


def test_the_anomalies_are_the_cli_anomalies(deployed, capsys):
    found = get(f"{BASE}/anomalies", window()).json()
    cli_found = _cli(capsys, "anomalies", "--since", window()["start"], "--until", window()["end"])
    assert found == {"anomalies": cli_found}
    assert [anomaly["anomaly_id"] for anomaly in found["anomalies"]] == [ANOMALY.anomaly_id]


def test_the_recommendations_are_the_cli_recommendations(deployed, capsys):
    found = get(f"{BASE}/recommendations", {"days": "31"}).json()
    end = NOW.replace(minute=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert found == _cli(capsys, "recommendations", "--days", "31", "--end", end)
    assert found["hours_read"] == 48


def test_the_reconciliation_is_the_cli_reconcile(deployed, capsys):
    found = get(f"{BASE}/reconciliation", {"month": "2026-11"}).json()
    assert found == _cli(capsys, "reconcile", "--month", "2026-11")
    assert (found["hours_calculated"], found["hours_in_month"]) == (48, 720)


def test_a_month_aws_has_not_published_answers_404_saying_when_it_will(deployed):
    answer = get(f"{BASE}/reconciliation", {"month": "2026-10"})
    assert answer.status == 404
    assert answer.json()["message"].startswith("no AWS figures stored for acme-prod 2026-10")


@pytest.mark.parametrize(
    ("path", "query", "problem"),
    [
        ("reconciliation", {"month": "2026-13"}, "month: not a month (YYYY-MM"),
        ("reconciliation", {}, "month: Field required"),
        ("recommendations", {"days": "0"}, "days: Input should be greater than or equal to 1"),
        ("recommendations", {"days": "32"}, "days: Input should be less than or equal to 31"),
        ("recommendations", {"days": "many"}, "days: Input should be a valid integer"),
        ("cost", window(START.replace(hour=5), END), "start: cost is by whole UTC days"),
        ("status", window(START, START + timedelta(days=63)), "start: the status covers at most 1488 hours"),
        ("anomalies", {"start": window()["start"]}, "end: Field required"),
    ],
)
def test_a_bad_parameter_answers_400_naming_it(deployed, path, query, problem):
    answer = get(f"{BASE}/{path}", query)
    assert answer.status == 400
    assert answer.json()["message"].startswith(problem)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("status", window()),
        ("cost", window()),
        ("anomalies", window()),
        ("recommendations", {}),
        ("reconciliation", {"month": "2026-11"}),
    ],
)
def test_another_tenant_gets_404_from_every_insight(deployed, path, query):
    answer = get(f"{BASE}/{path}", query, groups=[GLOBEX])
    assert answer.status == 404
    assert answer.json() == {"statusCode": 404, "message": "no connection named 'acme-prod'"}


def test_no_route_reads_a_connections_role_or_external_id(deployed):
    # Given the function's reads of the connections table watched
    settings = deployed.settings
    reads = TableReads(settings.connections_table)
    watched = ClientFactory(settings=settings, hooks=[reads.hook])
    with use_runtime(Runtime(settings=settings, clients=watched, clock=lambda: NOW)):
        # When every route answers
        for path, query in [
            ("/api/v1/connections", {}),
            (BASE, {}),
            (f"{BASE}/footprint", window()),
            (f"{BASE}/status", window()),
            (f"{BASE}/cost", window()),
            (f"{BASE}/anomalies", window()),
            (f"{BASE}/recommendations", {}),
            (f"{BASE}/reconciliation", {"month": "2026-11"}),
            (f"{BASE}/export", window()),
        ]:
            assert get(path, query).status == 200, path
    # Then each read of a connection named the attributes it reads, none of them the role or the ExternalId
    assert reads.requests
    for operation, body in reads.requests:
        assert operation in {"GetItem", "Scan"}
        attributes = reads.attributes(body)
        assert attributes is not None, operation
        assert attributes <= set(VIEW_ATTRIBUTES)
        assert not attributes & {"role_arn", "external_id", "account_id"}
