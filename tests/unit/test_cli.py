"""Bad CLI input is refused before any AWS call, with one line that names the problem; reports show ranges."""

from __future__ import annotations

import argparse
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import cli, queries, report
from carbonmeter.emissions import rollup
from carbonmeter.models import ConnectionSchedule, hour_key
from carbonmeter.windows import MAX_ESTIMATE_HOURS
from tests.support.estimates import emission_record

SECRET = "PgxYJIDXu7SOzKFQ4zmaLCaOnqg_dcJaTPsRkfpiAGg"
# Yesterday's first six hours: a window that stays within CloudWatch's retention whenever the tests run.
_YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
GOOD = {
    "--role-arn": "arn:aws:iam::111122223333:role/CarbonMeterReadOnly",
    "--regions": "us-east-1,eu-west-1",
    "--start": hour_key(_YESTERDAY),
    "--end": hour_key(_YESTERDAY + timedelta(hours=6)),
}


def _run_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, **changes: str
) -> tuple[int, list[str]]:
    # No endpoint and no credentials: any AWS call would fail loudly rather than reach anything.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    values = {**GOOD, **{f"--{k.replace('_', '-')}": v for k, v in changes.items()}}
    argv = ["estimate", *[part for flag, value in values.items() if value is not None for part in (flag, value)], *args]
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err.strip().splitlines()


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, **changes: str) -> tuple[int, str]:
    code, lines = _run_lines(capsys, monkeypatch, **changes)
    return code, lines[-1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"regions": "us-east-1,mars-north-1"}, "error: argument --regions: unknown region(s): mars-north-1"),
        ({"regions": "us-east-l"}, "unknown region(s): us-east-l (did you mean us-east-1?)"),
        ({"regions": "eu-wset-1"}, "unknown region(s): eu-wset-1 (did you mean eu-west-1?)"),
        ({"start": "2026-11-20T00:30:00Z"}, "is not a whole hour"),
        ({"start": "2026-11-20T00:00:00"}, "has no timezone; end it with Z"),
        ({"start": "2026-11-20"}, "'2026-11-20' is a date; give an hour with its timezone (e.g. 2026-11-23T10:00:00Z)"),
        ({"start": "yesterday"}, "is not an ISO 8601 time"),
        ({"start": "2098-12-31T00:00:00Z", "end": "2099-01-01T00:00:00Z"}, "error: the window ends in the future"),
        ({"start": "2026-11-20T06:00:00Z", "end": "2026-11-20T00:00:00Z"}, "error: end must be after start"),
        ({"role_arn": "arn:aws:iam::1234:user/alice"}, "error: role_arn: 'arn:aws:iam::1234:user/alice' is not an IAM"),
        ({"regions": ","}, "expected a comma-separated list"),
        ({"regions": None}, "error: the following arguments are required: --regions (see carbonmeter estimate --help)"),
        ({"external_id": "x"}, "error: the ExternalId must be at least 2 characters (STS refuses shorter ones)"),
    ],
)
@pytest.mark.usefixtures("nothing_collected")
def test_bad_estimate_arguments_exit_non_zero_with_one_line(capsys, monkeypatch, changes, message):
    code, lines = _run_lines(capsys, monkeypatch, **changes)
    assert code == cli.EXIT_USAGE
    # One line: no usage block before it, and none of pydantic's own wording
    assert len(lines) == 1, lines
    assert message in lines[0]
    assert "Value error" not in lines[0]
    assert "should have" not in lines[0]


@pytest.mark.usefixtures("nothing_collected")
def test_role_and_current_credentials_are_one_or_the_other(capsys, monkeypatch):
    # Given both ways to read the account at once
    code, lines = _run_lines(capsys, monkeypatch, "--current-credentials")
    # Then it is refused on one line
    assert code == cli.EXIT_USAGE
    assert lines == [
        "error: argument --current-credentials: not allowed with argument --role-arn (see carbonmeter estimate --help)"
    ]
    # And neither is refused too, naming both
    code, lines = _run_lines(capsys, monkeypatch, role_arn=None)
    assert code == cli.EXIT_USAGE
    assert "one of the arguments --role-arn --current-credentials is required" in lines[0]
    # And own credentials take no ExternalId
    monkeypatch.delenv(cli.EXTERNAL_ID_ENV, raising=False)
    code, lines = _run_lines(capsys, monkeypatch, "--current-credentials", role_arn=None, external_id=SECRET)
    assert code == cli.EXIT_USAGE
    assert lines == ["error: --current-credentials assumes no role, so it takes no ExternalId"]


@pytest.mark.parametrize(
    ("external_id", "warning"),
    [
        (
            None,
            "warning: no ExternalId given: the role is assumed without one, which a role made by "
            "CarbonMeterCustomerRoleStack refuses",
        ),
        (
            "ab",
            "warning: the ExternalId must be at least 16 characters (a random secret): fine for estimating a "
            "role of your own, refused by `carbonmeter connections add`",
        ),
        (SECRET, None),
    ],
    ids=["none", "short", "strong"],
)
def test_an_estimate_says_when_its_external_id_would_not_do_for_a_connection(capsys, monkeypatch, external_id, warning):
    # Given a role assumption that records what it was given and stops there
    monkeypatch.delenv(cli.EXTERNAL_ID_ENV, raising=False)
    given = []

    def assume(_factory, _role, value, *_, **__):
        given.append(value)
        raise cli.CliError("stopped before collecting")

    monkeypatch.setattr(cli, "assume_role", assume)
    monkeypatch.setattr(cli, "provider_for", lambda *_: None)
    # When an estimate is run with that ExternalId (or none)
    _, lines = _run_lines(capsys, monkeypatch, external_id=external_id)
    # Then the role is assumed with it as given (STS's rules are the only ones an existing role's ExternalId meets)
    assert given == [external_id]
    # And the difference from a connection's rules is said, without the value
    warnings = [line for line in lines if line.startswith("warning:")]
    if warning is None:
        assert warnings == []
    else:
        (line,) = warnings
        assert line.startswith(warning)


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.extend(_parsers(sub))
    return found


def test_every_option_has_help_and_no_help_shows_markup():
    for parser in _parsers(cli.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            # Then a user reading --help learns what each option is for
            assert action.help, f"{parser.prog} {action.option_strings or action.dest} has no help"
        text = parser.format_help()
        # And sees no reStructuredText or Markdown markup
        assert "``" not in text, parser.prog
        assert parser.prog.startswith("carbonmeter"), parser.prog


def test_upper_case_regions_are_taken_as_the_region():
    good = [part for flag_value in GOOD.items() for part in flag_value]
    args = cli.build_parser().parse_args(["estimate", *good, "--regions", "US-EAST-1"])
    assert args.regions == ["us-east-1"]


def test_last_hours_ends_with_the_latest_complete_hour():
    now = datetime(2026, 11, 23, 14, 7, tzinfo=UTC)
    args = cli.build_parser().parse_args(["status", "--connection-id", "acme", "--last", "3"])
    assert cli.window_of(args, now) == (datetime(2026, 11, 23, 11, tzinfo=UTC), datetime(2026, 11, 23, 14, tzinfo=UTC))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--last", "3", "--start", "2026-11-23T00:00:00Z"], "error: give --last, or --start and --end, not both"),
        (["--start", "2026-11-23T00:00:00Z"], "error: give --start and --end (e.g. 2026-11-23T00:00:00Z), or --last"),
        (["--last", "0"], "error: argument --last: '0' is not a number of hours (1 or more)"),
    ],
)
def test_a_stored_window_is_start_and_end_or_last(capsys, extra, message):
    code = _exit_code(["report", "--connection-id", "acme", *extra])
    assert code == cli.EXIT_USAGE
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(message)


def _exit_code(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


@pytest.fixture
def nothing_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any role assumption or collection fails the test: a refused window must not start one."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("collection started")

    monkeypatch.setattr(cli, "assume_role", refuse)
    monkeypatch.setattr(cli, "collect", refuse)


@pytest.mark.usefixtures("nothing_collected")
def test_an_estimate_of_2020_is_refused_as_older_than_cloudwatch_keeps(capsys, monkeypatch):
    # Given a window CloudWatch no longer holds hourly
    # When a user estimates it
    code, last_line = _run(capsys, monkeypatch, start="2020-01-01T00:00:00Z", end="2020-01-01T06:00:00Z")
    # Then it is refused on one line, before anything is collected
    assert code == cli.EXIT_USAGE
    assert last_line.startswith("error: start is older than CloudWatch keeps hourly data (455 days)")


@pytest.mark.usefixtures("nothing_collected")
def test_an_estimate_longer_than_a_week_is_refused(capsys, monkeypatch):
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=MAX_ESTIMATE_HOURS + 1)
    code, last_line = _run(capsys, monkeypatch, start=hour_key(start), end=hour_key(end))
    assert code == cli.EXIT_USAGE
    assert last_line == (
        "error: the window is 169 hours; an estimate covers at most 168 (one week): "
        "split it, or deploy the pipeline and backfill"
    )


def test_estimate_help_states_the_cap(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["estimate", "--help"])
    assert "at most 168 hours (one week)" in " ".join(capsys.readouterr().out.split())


def test_an_estimate_takes_the_external_id_from_stdin_or_the_environment_once(capsys, monkeypatch):
    # Given a role assumption that only records the ExternalId it was given
    monkeypatch.delenv(cli.EXTERNAL_ID_ENV, raising=False)
    given = []

    def assume(_factory, _role, external_id, *_, **__):
        given.append(external_id)
        raise cli.CliError("stopped before collecting")

    monkeypatch.setattr(cli, "assume_role", assume)
    monkeypatch.setattr(cli, "provider_for", lambda *_: None)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{SECRET}\n"))
    # When it comes from stdin, then from the environment
    _run(capsys, monkeypatch, external_id="-")
    monkeypatch.setenv(cli.EXTERNAL_ID_ENV, SECRET)
    _run(capsys, monkeypatch)
    # Then the role is assumed with it, both times
    assert given == [SECRET, SECRET]
    # And given both ways at once it is refused, before any role is assumed
    code, last_line = _run(capsys, monkeypatch, external_id=SECRET)
    assert code == cli.EXIT_USAGE
    assert last_line.startswith("error: give the ExternalId at most one way: ")
    assert SECRET not in last_line
    assert len(given) == 2


def test_unknown_service_is_named():
    parser = cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["estimate", *[p for kv in GOOD.items() for p in kv], "--services", "ec2,glacier"])


@pytest.fixture
def stored_rollups(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registered connection with two hours of one EC2 instance, as the tables would return them; no AWS call."""
    rollups = rollup([emission_record(hour_offset=0), emission_record(hour_offset=1, bounded=False)])

    class Stored:
        def __init__(self, *_: object) -> None:
            pass

        def rollups(self, *_: object) -> list:
            return rollups

    class Registered:
        def __init__(self, *_: object) -> None:
            pass

        def schedule(self, connection_id: str) -> ConnectionSchedule:
            assert connection_id == "acme"
            return ConnectionSchedule(connection_id="acme", window_hours=24, metrics_per_collection=1000)

    # The report's use case (carbonmeter.queries) reads the stores; the CLI presents what it returns.
    monkeypatch.setattr(queries, "EmissionStore", Stored)
    monkeypatch.setattr(queries, "ConnectionStore", Registered)


REPORT = ["report", "--connection-id", "acme", "--start", "2024-03-01T12:00:00Z", "--end", "2024-03-01T14:00:00Z"]


@pytest.mark.usefixtures("stored_rollups")
def test_report_table_shows_each_figure_with_its_range(capsys):
    assert cli.main(REPORT) == 0
    out = capsys.readouterr().out
    # central [low, high] unit: the unbounded hour counts its central figure on both sides
    line = next(line for line in out.splitlines() if line.startswith("us-east-1"))
    assert re.split(r"\s{2,}", line) == [
        "us-east-1",
        "ec2",
        "2.00 [1.50, 3.00] kWh",
        "800 [600, 1,300] g",
        "200 [150, 300] g",
        "1.00 [0.750, 1.60] kg",
    ]
    # And it says which window it is, and how many of its hours have emissions
    assert out.startswith("CarbonMeter report: connection 'acme', 2 of 2 hour(s) with emissions\n")
    assert "2024-03-01T12:00:00Z to 2024-03-01T14:00:00Z (end exclusive)" in out
    assert report.RANGES_NOTE in out
    # And, last, what monitoring the connection costs its customer a month
    assert out.rstrip().splitlines()[-1].startswith("monitoring cost: USD 0.30 a month of CloudWatch GetMetricData")


@pytest.mark.usefixtures("stored_rollups")
def test_report_json_is_one_document_shaped_like_the_estimates(capsys):
    assert cli.main([*REPORT, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # An object with the window, versions, totals and rows, as estimate prints (less its per-resource list), and the
    # connection's monitoring cost
    shaped = {"window", "versions", "grid_factors", "bounds", "totals", "services", "flags", "resources"}
    assert shaped | {"monitoring"} == set(document)
    assert document["monitoring"]["billed_to"] == "customer's account"
    assert document["window"]["hours"] == 2
    (row,) = document["services"]
    assert row["energy_kwh"] == pytest.approx(2.0)
    assert row["energy_kwh_range"] == pytest.approx({"low": 1.5, "high": 3.0})
    assert row["embodied_kgco2e_range"] == pytest.approx({"low": 0.15, "high": 0.3})
    assert document["totals"]["total_kgco2e"] == pytest.approx(1.0)
