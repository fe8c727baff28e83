"""The HTTP API's connections, through the real handler on HTTP API events, and the library's tenant check under
it (moto): a user reads their tenants' connections, and another tenant's answers as an unknown id does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from carbonmeter import cli, tenancy
from carbonmeter.aws import ClientFactory
from carbonmeter.periods import Granularity, GroupBy
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore, UnknownConnectionError
from carbonmeter.tenancy import Viewer
from devtools.aws.resources import create_resources
from tests.support.api import ACME, END, GLOBEX, START, get, store_connections, store_figures, tenant_connection

# 10:20: the hours up to 10:00 have settled (10 minutes); registered at 05:30, so 05:00 to 09:00 are looked after.
NOW = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)
REGISTERED = datetime(2026, 11, 30, 5, 30, tzinfo=UTC)
CONNECTIONS = (
    tenant_connection("acme-prod", ACME, REGISTERED),
    tenant_connection("acme-dev", ACME, REGISTERED),
    tenant_connection("globex-prod", GLOBEX, REGISTERED),
    # Registered without a tenant: the operator's alone.
    tenant_connection("operator-own", None, REGISTERED),
)


@pytest.fixture
def deployed(aws_credentials):
    with mock_aws():
        clients = ClientFactory(settings=Settings())
        settings = create_resources(clients, clients.settings)
        clients = ClientFactory(settings=settings)
        store_connections(clients, settings, CONNECTIONS)
        statuses = StatusStore(clients, settings.usage_table)
        # acme-prod: 05:00 and 06:00 complete, 07:00 with a failed scope, 08:00 and 09:00 never collected
        for hour in (5, 6):
            statuses.record("acme-prod", NOW.replace(hour=hour, minute=0), ["us-east-1/ec2"], {}, {})
        statuses.record("acme-prod", NOW.replace(hour=7, minute=0), [], {"eu-west-1/ec2": "Throttling"}, {})
        with use_runtime(Runtime(settings=settings, clients=clients, clock=lambda: NOW)):
            yield clients


def _ids(answer) -> list[str]:
    return [connection["connection_id"] for connection in answer.json()["connections"]]


def test_a_user_lists_the_connections_of_their_tenant_only(deployed):
    # When a user of acme, one of globex, one of both and one of no tenant list the connections
    assert _ids(get("/api/v1/connections", groups=[ACME])) == ["acme-dev", "acme-prod"]
    assert _ids(get("/api/v1/connections", groups=[GLOBEX])) == ["globex-prod"]
    assert _ids(get("/api/v1/connections", groups=[ACME, GLOBEX])) == ["acme-dev", "acme-prod", "globex-prod"]
    assert _ids(get("/api/v1/connections", groups=None)) == []
    # Then nobody sees the connection registered without a tenant, nor any role or ExternalId
    everything = get("/api/v1/connections", groups=[ACME, GLOBEX]).body
    assert "operator-own" not in everything
    assert "external-id-of" not in everything
    assert "arn:aws:iam" not in everything


def test_a_connection_carries_its_health_over_the_schedulers_look_back(deployed):
    found = get("/api/v1/connections/acme-prod").json()
    assert found == {
        "connection_id": "acme-prod",
        "tenant": ACME,
        "regions": ["us-east-1", "eu-west-1"],
        "services": [service.value for service in tenant_connection("x", None).services],
        "enabled": True,
        "last_collected_hour": None,
        "last_error": None,
        "last_error_at": None,
        # 05:00 to 09:00 looked after; 07:00 failed a scope, 08:00 and 09:00 were never collected
        "hours_missing": 3,
        "hours_in_lookback": 5,
        # Never collected completely, so what a collection requests is not known yet
        "monitoring": {
            "window_hours": 1,
            "metrics_per_collection": None,
            "usd_per_month": None,
            "billed_to": "customer's account",
        },
    }
    # And the list says the same of it
    listed = get("/api/v1/connections").json()["connections"]
    assert next(c for c in listed if c["connection_id"] == "acme-prod") == found


def test_another_tenants_connection_answers_exactly_as_an_unknown_one(deployed):
    # Given globex's connection asked for by a user of acme
    other = get("/api/v1/connections/globex-prod", groups=[ACME])
    untenanted = get("/api/v1/connections/operator-own", groups=[ACME, GLOBEX])
    # When the same id is no longer registered at all
    ConnectionStore(deployed, deployed.settings.connections_table).delete("globex-prod")
    unknown = get("/api/v1/connections/globex-prod", groups=[ACME])
    # Then the answers are the same, byte for byte
    assert other.status == unknown.status == 404
    assert other.body == unknown.body
    assert other.headers == unknown.headers
    assert other.json() == {"statusCode": 404, "message": "no connection named 'globex-prod'"}
    assert untenanted.json() == {"statusCode": 404, "message": "no connection named 'operator-own'"}


def test_an_id_no_connection_can_have_is_unknown_too(deployed):
    long_id = "a" * 3000
    answer = get(f"/api/v1/connections/{long_id}")
    assert answer.status == 404
    assert answer.json()["message"] == f"no connection named {long_id!r}"
    assert get("/api/v1/connections/acme prod").status == 404


def test_nothing_of_another_tenants_connection_reaches_the_logs(deployed, capsys):
    capsys.readouterr()
    # When a user of acme lists, and asks for globex's connection
    get("/api/v1/connections", groups=[ACME])
    get("/api/v1/connections/globex-prod", groups=[ACME])
    # Then no line of the function's output names globex's connection or its tenant
    logged = capsys.readouterr()
    assert "globex" not in logged.out + logged.err


def test_every_route_needs_the_authorizers_claims(deployed):
    for path in ("/api/v1/connections", "/api/v1/connections/acme-prod", "/api/v1/openapi.json"):
        answer = get(path, signed_in=False)
        assert answer.status == 401, path
        assert answer.json()["statusCode"] == 401
        assert "sign in" in answer.json()["message"]


# --- the library's check, under every tenant-scoped use case ---------------------------------------------------

WINDOW = (START, END)
USE_CASES = {
    "connection": lambda c, s, v, i: tenancy.connection_status(c, s, v, i, NOW),
    "footprint": lambda c, s, v, i: tenancy.footprint(c, s, v, i, WINDOW, Granularity.DAY, GroupBy.SERVICE, NOW),
    "status": lambda c, s, v, i: tenancy.hour_states(c, s, v, i, WINDOW, NOW),
    "cost": lambda c, s, v, i: tenancy.cost(c, s, v, i, WINDOW),
    "anomalies": lambda c, s, v, i: tenancy.anomalies(c, s, v, i, WINDOW),
    "recommendations": lambda c, s, v, i: tenancy.connection_recommendations(c, s, v, i, 1, NOW),
    "reconciliation": lambda c, s, v, i: tenancy.reconcile(c, s, v, i, "2026-11"),
    "export": lambda c, s, v, i: tenancy.export_file(
        c, s, v, i, WINDOW, Granularity.DAY, GroupBy.SERVICE, tenancy.ExportFormat.CSV, NOW
    ),
}


@pytest.mark.parametrize("use_case", sorted(USE_CASES))
def test_each_tenant_use_case_refuses_another_tenants_connection_as_unknown(deployed, use_case):
    # Given figures stored for globex's connection
    store_figures(deployed, deployed.settings, "globex-prod", START, START + timedelta(hours=2))
    run = USE_CASES[use_case]
    acme = Viewer(tenants=frozenset({ACME}))
    with pytest.raises(UnknownConnectionError) as other:
        run(deployed, deployed.settings, acme, "globex-prod")
    with pytest.raises(UnknownConnectionError) as unknown:
        run(deployed, deployed.settings, acme, "nobody")
    assert str(other.value) == "no connection named 'globex-prod'"
    assert str(unknown.value) == "no connection named 'nobody'"


def test_a_viewer_of_the_tenant_reads_it_and_the_list_leaves_others_out(deployed):
    acme = Viewer(tenants=frozenset({ACME}))
    found = tenancy.visible_connections(deployed, deployed.settings, acme, NOW)
    assert [c.connection_id for c in found.connections] == ["acme-dev", "acme-prod"]
    assert tenancy.visible_connection(deployed, deployed.settings, acme, "acme-dev").tenant == ACME
    assert json.loads(found.model_dump_json())["connections"][0]["tenant"] == ACME


# --- registering a tenant's connection ---------------------------------------------------------------------------

SECRET = "tohzE5mmBECZW6EcDidg9e5okelULtfbuuMzHGwBsDg"


def _add(connection_id: str, *extra: str) -> int:
    return cli.main(
        ["connections", "add", "--connection-id", connection_id, "--role-arn",
         "arn:aws:iam::111122223333:role/CarbonMeterReadOnly", "--external-id", SECRET, "--regions", "us-east-1",
         "--no-check", *extra]
    )  # fmt: skip


def test_a_connection_registered_with_a_tenant_is_shown_to_that_tenants_users(deployed, capsys, monkeypatch):
    monkeypatch.delenv(cli.EXTERNAL_ID_ENV, raising=False)
    # When the operator registers one with --tenant
    assert _add("initech-prod", "--tenant", "initech") == 0
    assert "tenant initech" in capsys.readouterr().out
    # Then the CLI lists its tenant, and the API shows it to initech's users alone
    assert cli.main(["connections", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("initech-prod"))
    assert row.split()[1] == "initech"
    assert _ids(get("/api/v1/connections", groups=["initech"])) == ["initech-prod"]
    assert "initech-prod" not in _ids(get("/api/v1/connections", groups=[ACME]))


def test_a_connection_registered_without_a_tenant_is_the_clis_alone(deployed, capsys, monkeypatch):
    monkeypatch.delenv(cli.EXTERNAL_ID_ENV, raising=False)
    assert _add("ops-only") == 0
    assert "no tenant (no HTTP API user sees it)" in capsys.readouterr().out
    assert cli.main(["connections", "list", "--format", "json"]) == 0
    listed = {c["connection_id"]: c for c in json.loads(capsys.readouterr().out)}
    assert listed["ops-only"].get("tenant") is None
    assert get("/api/v1/connections/ops-only", groups=[ACME, GLOBEX]).status == 404


def test_a_tenant_name_that_cannot_be_a_group_is_refused_on_one_line(deployed, capsys, monkeypatch):
    monkeypatch.delenv(cli.EXTERNAL_ID_ENV, raising=False)
    assert _add("bad", "--tenant", "acme corp") == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        "error: tenant: 'acme corp' is not a valid tenant name (letters, digits, '.', '_', '-'; at most 64)\n"
    )
    assert get("/api/v1/connections", groups=[ACME, GLOBEX]).status == 200
    with pytest.raises(UnknownConnectionError):
        ConnectionStore(deployed, deployed.settings.connections_table).get("bad")
