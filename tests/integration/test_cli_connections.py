"""``python -m carbonmeter connections`` and ``status`` against the registry on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import cli
from carbonmeter.aws import ClientFactory
from carbonmeter.local.resources import create_resources
from carbonmeter.models import hour_key, previous_whole_hour
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore

ROLE = "arn:aws:iam::111122223333:role/CarbonMeterReadOnly"
SECRET = "a-long-random-secret-1"


@pytest.fixture
def registry(aws, monkeypatch):
    factory = ClientFactory(settings=Settings())
    create_resources(factory, factory.settings)
    return ConnectionStore(factory, factory.settings.connections_table)


def _add(connection_id: str, external_id: str = SECRET, *extra: str) -> int:
    return cli.main(
        ["connections", "add", "--connection-id", connection_id, "--role-arn", ROLE, "--external-id", external_id,
         "--regions", "us-east-1", *extra]
    )  # fmt: skip


def test_add_list_and_disable(registry, capsys):
    assert _add("acme") == 0
    assert "connection acme saved: account 111122223333, 1 region(s)" in capsys.readouterr().out
    assert cli.main(["connections", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["connection_id"] for c in listed] == ["acme"]
    # The ExternalId is a secret: it never leaves the registry through the CLI
    assert SECRET not in json.dumps(listed)
    assert cli.main(["connections", "disable", "acme"]) == 0
    assert registry.get("acme").enabled is False


def test_each_connection_needs_its_own_long_external_id(registry, capsys):
    assert _add("acme") == 0
    assert _add("other") == cli.EXIT_USAGE
    assert "already used by another connection" in capsys.readouterr().err
    assert _add("short", "abc") == cli.EXIT_USAGE
    assert "at least 16 characters" in capsys.readouterr().err
    assert [c.connection_id for c in registry.list()] == ["acme"]
    # Re-registering the same connection with its own secret is allowed
    assert _add("acme") == 0


def test_collect_from_sets_where_the_hourly_run_starts_and_is_kept_on_re_add(registry):
    start = previous_whole_hour(datetime.now(UTC)) - timedelta(hours=5)
    assert _add("acme", SECRET, "--collect-from", hour_key(start)) == 0
    assert registry.get("acme").created_at == start
    assert _add("acme") == 0
    assert registry.get("acme").created_at == start
    assert _add("late", "another-long-secret-2", "--collect-from", "2099-01-01T00:00:00Z") == cli.EXIT_USAGE


def test_status_shows_each_hour_and_what_it_misses(registry, capsys):
    assert _add("acme") == 0
    capsys.readouterr()
    hour = previous_whole_hour(datetime.now(UTC)) - timedelta(hours=2)
    statuses = StatusStore(ClientFactory(settings=Settings()), Settings().usage_table)
    statuses.record("acme", hour, ["us-east-1/ec2"], {}, {})
    for _ in range(3):
        statuses.record(
            "acme", hour + timedelta(hours=1), ["us-east-1/ec2"], {"us-east-1/rds": "AccessDenied: not authorized"}, {}
        )
    args = [
        "status",
        "--connection-id",
        "acme",
        "--start",
        hour_key(hour),
        "--end",
        hour_key(hour + timedelta(hours=3)),
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "complete" in out
    assert "us-east-1/rds: AccessDenied: not authorized" in out
    assert "not collected" in out
    assert "1 of 3 hour(s) complete" in out
    assert cli.main([*args, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document.values())[1]["complete"] is False
    assert list(document.values())[2] is None
    assert cli.main(["status", "--connection-id", "ghost", *args[3:]]) == cli.EXIT_USAGE
