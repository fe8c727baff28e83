"""Bad CLI input is refused before any AWS call, with one line that names the problem; reports show ranges."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import cli, queries, report
from carbonmeter.emissions import rollup
from carbonmeter.models import hour_key
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


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, **changes: str) -> tuple[int, str]:
    # No endpoint and no credentials: any AWS call would fail loudly rather than reach anything.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    values = {**GOOD, **{f"--{k.replace('_', '-')}": v for k, v in changes.items()}}
    args = ["estimate", *[part for flag, value in values.items() for part in (flag, value)]]
    try:
        code = cli.main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"regions": "us-east-1,mars-north-1"}, "error: unknown region(s): mars-north-1"),
        ({"start": "2026-11-20T00:30:00Z"}, "is not a whole hour"),
        ({"start": "2026-11-20T00:00:00"}, "has no timezone; end it with Z"),
        ({"start": "yesterday"}, "is not an ISO 8601 time"),
        ({"start": "2098-12-31T00:00:00Z", "end": "2099-01-01T00:00:00Z"}, "error: the window ends in the future"),
        ({"start": "2026-11-20T06:00:00Z", "end": "2026-11-20T00:00:00Z"}, "error: end must be after start"),
        ({"role_arn": "arn:aws:iam::1234:user/alice"}, "is not an IAM role ARN"),
        ({"regions": ","}, "expected a comma-separated list"),
    ],
)
def test_bad_estimate_arguments_exit_non_zero_with_one_line(capsys, monkeypatch, changes, message):
    code, last_line = _run(capsys, monkeypatch, **changes)
    assert code == cli.EXIT_USAGE
    assert message in last_line


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
    monkeypatch.setattr(cli, "known_regions", lambda: {"us-east-1", "eu-west-1"})
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

        def get(self, connection_id: str) -> None:
            assert connection_id == "acme"

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
    assert out.rstrip().endswith(report.RANGES_NOTE)


@pytest.mark.usefixtures("stored_rollups")
def test_report_json_is_one_document_shaped_like_the_estimates(capsys):
    assert cli.main([*REPORT, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # An object with the window, versions, totals and rows, as estimate prints (less its per-resource list)
    assert {"window", "versions", "grid_factors", "bounds", "totals", "services", "flags", "resources"} == set(document)
    assert document["window"]["hours"] == 2
    (row,) = document["services"]
    assert row["energy_kwh"] == pytest.approx(2.0)
    assert row["energy_kwh_range"] == pytest.approx({"low": 1.5, "high": 3.0})
    assert row["embodied_kgco2e_range"] == pytest.approx({"low": 0.15, "high": 0.3})
    assert document["totals"]["total_kgco2e"] == pytest.approx(1.0)
