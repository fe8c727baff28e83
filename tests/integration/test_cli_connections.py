"""``carbonmeter connections``, ``status`` and ``report`` against the registry on moto."""

from __future__ import annotations

import functools
import io
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import cli, periods
from carbonmeter.aws import ClientFactory
from carbonmeter.connections import validate_external_id
from carbonmeter.models import Rollup, Service, hour_key, previous_whole_hour
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore, StatusStore
from tests.support.aws_hooks import deny_assume_role, refuse_when

ROLE = "arn:aws:iam::111122223333:role/CarbonMeterReadOnly"
OTHER_ROLE = "arn:aws:iam::444455556666:role/CarbonMeterReadOnly"
SECRET = "tohzE5mmBECZW6EcDidg9e5okelULtfbuuMzHGwBsDg"
OTHER_SECRET = "UPQihqVjtUrqKiuRJpgDwaLGS5DpzaaSsZrFnn0AH7A"


def _add(connection_id: str, *extra: str, external_id: str | None = SECRET, role: str = ROLE) -> int:
    source = [] if external_id is None else ["--external-id", external_id]
    return cli.main(
        ["connections", "add", "--connection-id", connection_id, "--role-arn", role, *source,
         "--regions", "us-east-1", *extra]
    )  # fmt: skip


def _window(hours: int = 3) -> list[str]:
    end = previous_whole_hour(datetime.now(UTC))
    return ["--start", hour_key(end - timedelta(hours=hours)), "--end", hour_key(end)]


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
    assert _add("other", role=OTHER_ROLE) == cli.EXIT_USAGE
    assert "already used by another connection" in capsys.readouterr().err
    assert _add("short", external_id="abc", role=OTHER_ROLE) == cli.EXIT_USAGE
    assert "at least 16 characters" in capsys.readouterr().err
    assert [c.connection_id for c in registry.list()] == ["acme"]
    # Re-registering the same connection with its own secret is allowed, when asked for
    assert _add("acme", "--replace") == 0


def test_collect_from_sets_where_the_hourly_run_starts_and_is_kept_on_replace(registry):
    start = previous_whole_hour(datetime.now(UTC)) - timedelta(hours=5)
    assert _add("acme", "--collect-from", hour_key(start)) == 0
    assert registry.get("acme").created_at == start
    assert _add("acme", "--replace") == 0
    assert registry.get("acme").created_at == start
    late = ["--collect-from", "2099-01-01T00:00:00Z"]
    assert _add("late", *late, external_id=OTHER_SECRET, role=OTHER_ROLE) == cli.EXIT_USAGE


@pytest.mark.parametrize(
    "external_id",
    [
        "tohzE5mmBECZW6EcDidg 9e5okelULtfbuuMzHGwBsDg",  # a space: STS and the stack's AllowedPattern refuse it
        "tohzE5mmBECZW6EcDidgé9e5okelULtfbuuMzHGwBsDg",  # non-ASCII, likewise
        "aaaaaaaaaaaaaaaa",
        "abababababababab",
        "0123456789abcdef",
    ],
    ids=["space", "non-ascii", "one-letter", "alternating", "sequence"],
)
def test_an_external_id_sts_refuses_or_easy_to_guess_is_not_stored(registry, capsys, external_id):
    # When an operator registers a connection with it
    assert _add("acme", external_id=external_id) == cli.EXIT_USAGE
    # Then nothing is stored, and the one error line names the rule, not the secret
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("error: the ExternalId ")
    assert "--generate-external-id" in line
    assert external_id not in captured.err + captured.out
    assert list(registry.list()) == []


def test_the_external_id_can_come_from_stdin(registry, capsys, monkeypatch):
    # Given the secret on stdin (e.g. piped from a secrets manager), not in argv
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    assert _add("acme", external_id="-") == 0
    # Then it is stored as it was, line end dropped, and never echoed
    assert registry.get("acme").external_id == SECRET
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err


def test_an_empty_stdin_is_refused(registry, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert _add("acme", external_id="-") == cli.EXIT_USAGE
    assert "no ExternalId on stdin" in capsys.readouterr().err
    assert list(registry.list()) == []


def test_the_external_id_can_come_from_the_environment(registry, capsys, monkeypatch):
    monkeypatch.setenv(cli.EXTERNAL_ID_ENV, SECRET)
    assert _add("acme", external_id=None) == 0
    assert registry.get("acme").external_id == SECRET
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err


@pytest.mark.parametrize(
    ("extra", "from_env", "got"),
    [
        ([], False, ""),
        (["--external-id", SECRET], True, " (got --external-id and CARBONMETER_EXTERNAL_ID)"),
        (["--external-id", SECRET, "--generate-external-id"], False, " (got --external-id and --generate-external-id)"),
        (["--generate-external-id"], True, " (got CARBONMETER_EXTERNAL_ID and --generate-external-id)"),
    ],
    ids=["none", "argv-and-env", "argv-and-generate", "env-and-generate"],
)
def test_exactly_one_source_of_external_id(registry, capsys, monkeypatch, extra, from_env, got):
    if from_env:
        monkeypatch.setenv(cli.EXTERNAL_ID_ENV, OTHER_SECRET)
    assert _add("acme", *extra, external_id=None) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: give the ExternalId exactly one way: --external-id - (stdin), ")
    assert err.rstrip().endswith(f"--generate-external-id or --external-id VALUE{got}")
    assert SECRET not in err
    assert OTHER_SECRET not in err
    assert list(registry.list()) == []


def test_a_generated_external_id_is_stored_and_printed_once(registry, capsys):
    # When an operator lets CarbonMeter generate the ExternalId
    assert _add("acme", "--generate-external-id", external_id=None) == 0
    captured = capsys.readouterr()
    # Then it is printed once, on its own line, to hand to the customer, and it is the one stored
    (line,) = [line for line in captured.out.splitlines() if line.startswith("ExternalId: ")]
    generated = line.removeprefix("ExternalId: ")
    assert registry.get("acme").external_id == generated
    validate_external_id(generated)
    assert captured.out.count(generated) == 1
    assert generated not in captured.err
    assert "not shown again" in captured.err
    # And nothing shows it afterwards
    assert cli.main(["connections", "list", "--format", "json"]) == 0
    assert cli.main(["connections", "list"]) == 0
    assert generated not in capsys.readouterr().out


def test_a_disabled_connection_is_not_re_enabled_by_adding_it_again(registry, capsys):
    # Given a connection with a collected hour, then disabled
    assert _add("acme") == 0
    hour = previous_whole_hour(datetime.now(UTC))
    registry.record_success("acme", hour, inventory_since=hour)
    assert cli.main(["connections", "disable", "acme"]) == 0
    before = registry.get("acme")
    capsys.readouterr()
    # When it is added again without --replace
    assert _add("acme", external_id=OTHER_SECRET) == cli.EXIT_USAGE
    # Then it is refused, and stays disabled with its history
    assert "error: connection 'acme' is already registered and disabled" in capsys.readouterr().err
    assert registry.get("acme") == before
    # When it is added again with --replace
    assert _add("acme", "--replace", external_id=OTHER_SECRET) == 0
    # Then the output says so, it is enabled and keeps the hour it is collected from
    assert capsys.readouterr().out.startswith("connection acme replaced (it was disabled; it is enabled again):")
    after = registry.get("acme")
    assert after.enabled
    assert after.created_at == before.created_at
    assert after.external_id == OTHER_SECRET


def test_an_enabled_connection_is_replaced_only_when_asked(registry, capsys):
    assert _add("acme") == 0
    capsys.readouterr()
    assert _add("acme", external_id=OTHER_SECRET) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "error: connection 'acme' is already registered;" in err
    assert err.rstrip().endswith("(--replace to replace it)")
    assert registry.get("acme").external_id == SECRET
    assert _add("acme", "--replace", external_id=OTHER_SECRET) == 0
    assert capsys.readouterr().out.startswith("connection acme replaced: account 111122223333")


def test_one_role_under_two_connection_ids_needs_allow_shared_role(registry, capsys):
    assert _add("acme") == 0
    capsys.readouterr()
    # When another connection id is registered with the same role
    assert _add("acme-again", external_id=OTHER_SECRET) == cli.EXIT_USAGE
    # Then it is refused, naming the connection that has it
    err = capsys.readouterr().err
    assert err.strip() == (
        f"error: role {ROLE} is already the role of connection(s) acme (--allow-shared-role to register it anyway)"
    )
    assert [c.connection_id for c in registry.list()] == ["acme"]
    # And with --allow-shared-role it is registered, with a warning
    assert _add("acme-again", "--allow-shared-role", external_id=OTHER_SECRET) == 0
    err = capsys.readouterr().err
    assert f"warning: role {ROLE} is also the role of connection(s) acme" in err
    assert sorted(c.connection_id for c in registry.list()) == ["acme", "acme-again"]


def test_report_of_an_unknown_connection_exits_non_zero_as_status_does(registry, capsys):
    assert _add("acme") == 0
    capsys.readouterr()
    # Given a registered connection with nothing stored yet, its report is empty but fine
    assert cli.main(["report", "--connection-id", "acme", *_window()]) == 0
    assert "connection 'acme', 0 of 3 hour(s) with emissions" in capsys.readouterr().out
    # When the id is not registered at all
    for command in ("report", "status"):
        assert cli.main([command, "--connection-id", "ghost", *_window()]) == cli.EXIT_USAGE
        # Then both say so and exit non-zero, printing no report
        captured = capsys.readouterr()
        assert captured.err.strip() == "error: no connection named 'ghost'"
        assert captured.out == ""


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


def test_a_missing_table_is_named_with_the_setting_that_chooses_it(aws, capsys, monkeypatch):
    # Given no CarbonMeter tables at all (nothing deployed, no local CarbonMeter)
    monkeypatch.delenv("CARBONMETER_CONNECTIONS_TABLE", raising=False)
    # When a user lists the connections
    assert cli.main(["connections", "list"]) == cli.EXIT_FAILURE
    # Then one line names the table, the setting that chooses it and the two ways to have one
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "error: table 'carbonmeter-connections' does not exist in us-east-1: CARBONMETER_CONNECTIONS_TABLE chooses "
        "it; set it to the stack's ConnectionsTable output, or set CARBONMETER_ENDPOINT_URL to a local CarbonMeter "
        "(make local)"
    )


def test_a_missing_usage_table_is_named_too(registry, capsys, monkeypatch):
    assert _add("acme") == 0
    capsys.readouterr()
    monkeypatch.setenv("CARBONMETER_USAGE_TABLE", "carbonmeter-usage-typo")
    assert cli.main(["status", "--connection-id", "acme", "--last", "3"]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("error: table 'carbonmeter-usage-typo' does not exist in us-east-1: CARBONMETER_USAGE_TABLE")


def _refusing(monkeypatch: pytest.MonkeyPatch, *hooks) -> None:
    """The CLI's clients answer as AWS would for a role that refuses (the hooks), on moto."""
    monkeypatch.setattr(cli, "ClientFactory", functools.partial(ClientFactory, hooks=list(hooks)))


def test_add_checks_the_role_first_so_a_wrong_external_id_shows_at_once(registry, capsys, monkeypatch):
    # Given a role that refuses the ExternalId given (STS answers AccessDenied)
    _refusing(monkeypatch, deny_assume_role("CarbonMeterReadOnly"))
    # When the connection is added
    assert _add("acme") == cli.EXIT_USAGE
    # Then it is refused on one line that says why and how to register it anyway, and nothing is stored
    captured = capsys.readouterr()
    error = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert error == [
        f"error: cannot assume {ROLE}: AccessDenied: User is not authorized to perform: sts:AssumeRole "
        "(--no-check to register it anyway)"
    ]
    assert SECRET not in captured.err + captured.out
    assert list(registry.list()) == []
    # When told not to check, it is stored, and a later test says what fails
    assert _add("acme", "--no-check") == 0
    assert registry.get("acme").external_id == SECRET
    capsys.readouterr()
    assert cli.main(["connections", "test", "acme"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip().endswith("AccessDenied: User is not authorized to perform: sts:AssumeRole")


def test_test_reads_each_region_and_says_which_work(registry, capsys, monkeypatch):
    # Given a connection with two regions, registered after a passing check
    assert _add("acme", "--regions", "us-east-1,eu-west-1") == 0
    assert "checked: assumed the role with its ExternalId and read 2 region(s)" in capsys.readouterr().out
    # When every region can be read, test says so for each and exits 0
    assert cli.main(["connections", "test", "acme"]) == 0
    rows = _region_rows(capsys.readouterr().out)
    assert rows == {"us-east-1": "ok", "eu-west-1": "ok"}
    # When the role's policy lacks the read (AccessDenied on DescribeInstances), every region says so, non-zero
    refusal = refuse_when("before-call.ec2.DescribeInstances", "", "UnauthorizedOperation", "not authorized", 403)
    _refusing(monkeypatch, refusal)
    assert cli.main(["connections", "test", "acme"]) == cli.EXIT_FAILURE
    captured = capsys.readouterr()
    assert set(_region_rows(captured.out).values()) == {"UnauthorizedOperation: not authorized"}
    assert captured.err.strip().splitlines()[-1] == "error: 2 of 2 region(s) could not be read"


def _region_rows(out: str) -> dict[str, str]:
    lines = out.splitlines()
    return {line.split()[0]: line.split(maxsplit=1)[1].strip() for line in lines[3:] if line.strip()}


def test_enable_and_remove(registry, capsys):
    # Given a disabled connection with a collected hour
    assert _add("acme") == 0
    registry.record_success("acme", previous_whole_hour(datetime.now(UTC)), inventory_since=datetime.now(UTC))
    assert cli.main(["connections", "disable", "acme"]) == 0
    capsys.readouterr()
    # When it is enabled, it is collected again with its history
    assert cli.main(["connections", "enable", "acme"]) == 0
    assert capsys.readouterr().out.strip() == "connection acme enabled: the hourly run collects it again"
    assert registry.get("acme").enabled
    assert registry.get("acme").last_success_hour is not None
    # When an enabled connection is removed, it is refused with what to do first
    assert cli.main(["connections", "remove", "acme"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "error: connection 'acme' is enabled: disable it first, so the hourly run stops queueing its hours "
        "(carbonmeter connections disable ID)"
    )
    # When it is disabled and removed, the output says what happens to its records, and it is gone
    assert cli.main(["connections", "disable", "acme"]) == 0
    assert cli.main(["connections", "remove", "acme"]) == 0
    out = capsys.readouterr().out
    assert "connection acme removed (account 111122223333): its stored usage, statuses and emissions stay" in out
    assert list(registry.list()) == []
    assert cli.main(["report", "--connection-id", "acme", "--last", "3"]) == cli.EXIT_USAGE
    assert cli.main(["connections", "enable", "ghost"]) == cli.EXIT_USAGE


def _calculated_days(registry, start: datetime, days: int) -> None:
    """Two regions' EC2 roll-ups stored for every hour of ``days`` days, and their periods refreshed."""
    store = EmissionStore(ClientFactory(settings=Settings()), Settings().emissions_table)
    for hour in (start + timedelta(hours=h) for h in range(days * 24)):
        rollups = [
            Rollup(
                connection_id="acme",
                hour=hour,
                region=region,
                service=Service.EC2,
                resources=2,
                energy_kwh=0.5,
                operational_kgco2e=0.2,
                embodied_kgco2e=0.05,
                methodology_version="1.2",
            )
            for region in ("us-east-1", "eu-west-1")
        ]
        store.replace_hour("acme", hour, [], rollups)
        periods.refresh_periods(store, "acme", hour)


def test_report_by_day_reads_the_stored_days(registry, capsys):
    # Given a connection with two whole days calculated
    assert _add("acme", "--no-check") == 0
    start = (datetime.now(UTC) - timedelta(days=10)).replace(hour=0, minute=0, second=0, microsecond=0)
    _calculated_days(registry, start, days=2)
    window = ["--start", hour_key(start), "--end", hour_key(start + timedelta(days=2))]
    capsys.readouterr()
    # When its report is asked by day and region
    assert cli.main(["report", "--connection-id", "acme", *window, "--granularity", "day", "--group-by", "region",
                     "--format", "json"]) == 0  # fmt: skip
    found = json.loads(capsys.readouterr().out)
    # Then each day has one point per region, with the day's 24 hours of figures
    assert [(p["period_start"][:10], p["group"]) for p in found["series"]] == [
        (f"{day:%Y-%m-%d}", region)
        for day in (start, start + timedelta(days=1))
        for region in ("eu-west-1", "us-east-1")
    ]
    assert [p["energy_kwh"]["central"] for p in found["series"]] == pytest.approx([12.0] * 4)
    assert found["totals"]["energy_kwh"]["central"] == pytest.approx(48.0)
    assert (found["hours_covered"], found["hours_in_range"]) == (48, 48)
    # And the table says what it covers
    assert cli.main(["report", "--connection-id", "acme", *window, "--granularity", "day"]) == 0
    text = capsys.readouterr().out
    assert "48 of 48 hour(s) calculated" in text
    assert "end exclusive" in text


def test_a_report_by_day_off_midnight_is_one_error_line(registry, capsys):
    assert _add("acme", "--no-check") == 0
    capsys.readouterr()
    end = previous_whole_hour(datetime.now(UTC)).replace(hour=0) - timedelta(days=1)
    window = ["--start", hour_key(end - timedelta(hours=30)), "--end", hour_key(end)]
    assert cli.main(["report", "--connection-id", "acme", *window, "--granularity", "day"]) == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith("error: day granularity: start must be midnight UTC")
    assert len(error.strip().splitlines()) == 1
