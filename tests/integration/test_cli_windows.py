"""``carbonmeter connections add --window-hours``, ``connections window`` and the monitoring cost in ``list`` and
``report``, against the registry on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import cli
from carbonmeter.models import hour_key, previous_whole_hour
from carbonmeter.monitoring import monthly_usd
from carbonmeter.settings import Settings

ROLE = "arn:aws:iam::111122223333:role/CarbonMeterReadOnly"
SECRET = "tohzE5mmBECZW6EcDidg9e5okelULtfbuuMzHGwBsDg"


def _add(*extra: str) -> int:
    return cli.main(
        ["connections", "add", "--connection-id", "acme", "--role-arn", ROLE, "--external-id", SECRET,
         "--regions", "us-east-1", "--no-check", *extra]
    )  # fmt: skip


def _listed(capsys) -> dict:
    capsys.readouterr()
    assert cli.main(["connections", "list", "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    return listed


def test_a_connection_registered_with_its_own_window_is_listed_with_it(registry, capsys):
    assert _add("--window-hours", "6") == 0
    assert registry.get("acme").window_hours == 6
    listed = _listed(capsys)
    assert (listed["collection_window_hours"], listed["monitoring_billed_to"]) == (6, "customer's account")
    # (no collection yet: its cost is not known)
    assert listed["monitoring_usd_per_month"] is None


@pytest.mark.parametrize("value", ["2", "0", "48", "six"])
def test_a_window_not_allowed_is_refused_on_one_line_naming_the_allowed_ones(registry, capsys, value):
    with pytest.raises(SystemExit) as refused:
        _add("--window-hours", value)
    assert refused.value.code == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "1, 3, 6, 12 or 24" in error
    assert list(registry.list()) == []


def test_the_window_of_an_existing_connection_is_changed_and_reset_to_the_deployments(registry, capsys, monkeypatch):
    # Given a connection at the deployment's window, in a deployment of 3-hour windows
    monkeypatch.setenv(Settings.env_name("collection_window_hours"), "3")
    assert _add() == 0
    assert _listed(capsys)["collection_window_hours"] == 3
    # When it is given its own 24-hour window, then back to the deployment's
    assert cli.main(["connections", "window", "acme", "24"]) == 0
    assert "every 24 hour(s) (its own window)" in capsys.readouterr().out
    assert registry.get("acme").window_hours == 24
    assert cli.main(["connections", "window", "acme", "default"]) == 0
    capsys.readouterr()
    # Then it is listed at each in turn, and an unknown id or a bad window is refused
    assert registry.get("acme").window_hours is None
    assert _listed(capsys)["collection_window_hours"] == 3
    assert cli.main(["connections", "window", "nobody", "6"]) == cli.EXIT_USAGE
    assert "no connection named 'nobody'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["connections", "window", "acme", "5"])
    assert "1, 3, 6, 12 or 24" in capsys.readouterr().err


def test_list_and_report_show_the_monthly_monitoring_cost_and_who_pays_it(registry, capsys):
    # Given a 6-hour connection whose last complete collection requested 2,000 metrics
    assert _add("--window-hours", "6") == 0
    hour = previous_whole_hour(datetime.now(UTC))
    registry.record_success("acme", hour, hour, metrics_requested=2000)
    capsys.readouterr()
    # Then list shows what 2,000 metrics four times a day cost a month, in the customer's account
    assert _listed(capsys)["monitoring_usd_per_month"] == pytest.approx(monthly_usd(2000, 6))
    assert cli.main(["connections", "list"]) == 0
    table = capsys.readouterr().out
    assert f"{monthly_usd(2000, 6):.2f}" in table
    assert "6 h" in table
    assert "billed to the customer's account" in table
    # And so does the report, as text and as JSON
    window = ["--start", hour_key(hour - timedelta(hours=3)), "--end", hour_key(hour)]
    assert cli.main(["report", "--connection-id", "acme", *window]) == 0
    assert f"monitoring cost: USD {monthly_usd(2000, 6):.2f} a month" in capsys.readouterr().out
    assert cli.main(["report", "--connection-id", "acme", *window, "--format", "json"]) == 0
    monitoring = json.loads(capsys.readouterr().out)["monitoring"]
    assert monitoring == {
        "window_hours": 6,
        "metrics_per_collection": 2000,
        "usd_per_month": pytest.approx(monthly_usd(2000, 6)),
        "billed_to": "customer's account",
    }
