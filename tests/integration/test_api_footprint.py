"""The footprint route through the real handler (moto): the CLI report's figures, and its parameters checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import cli, tenancy
from carbonmeter.tenancy import ReadLimits
from tests.support.api import (
    END,
    GLOBEX,
    START,
    api_deployment,
    get,
    window,
)

NOW = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)
PATH = "/api/v1/connections/acme-prod/footprint"


@pytest.fixture(scope="module")
def deployed():
    # One store for the module: every test here reads it, none writes.
    with api_deployment(NOW) as clients:
        yield clients


def _cli_report(capsys, granularity: str, group_by: str) -> dict:
    capsys.readouterr()
    code = cli.main(
        ["report", "--connection-id", "acme-prod", "--start", window()["start"], "--end", window()["end"],
         "--granularity", granularity, "--group-by", group_by, "--format", "json"]
    )  # fmt: skip
    assert code == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("granularity", "group_by"), [("day", "service"), ("hour", "region"), ("day", "resource")])
def test_the_footprint_is_the_cli_reports_figures_for_the_same_range(deployed, capsys, granularity, group_by):
    answer = get(PATH, {**window(), "granularity": granularity, "group_by": group_by})
    assert answer.status == 200
    found = answer.json()
    assert found == _cli_report(capsys, granularity, group_by)
    # And it has the shape: totals and each point's three figures as central, low and high
    assert set(found) >= {"totals", "series", "hours_covered", "hours_in_range"}
    assert set(found["totals"]) == {"energy_kwh", "operational_kgco2e", "embodied_kgco2e"}
    assert set(found["totals"]["energy_kwh"]) == {"central", "low", "high"}
    assert set(found["series"][0]) == {"period_start", "group", "energy_kwh", "operational_kgco2e", "embodied_kgco2e"}
    assert found["hours_covered"] == found["hours_in_range"] == 48


def test_the_totals_carry_their_range(deployed):
    found = get(PATH, window()).json()
    energy = found["totals"]["energy_kwh"]
    assert energy["low"] < energy["central"] < energy["high"]
    # Defaults: by day and by service
    assert (found["granularity"], found["group_by"]) == ("day", "service")
    assert [point["group"] for point in found["series"][:2]] == ["ebs", "ec2"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({**window(), "granularity": "week"}, "granularity: Input should be 'hour', 'day' or 'month'"),
        ({**window(), "group_by": "colour"}, "group_by: Input should be"),
        ({"end": window()["end"]}, "start: Field required"),
        ({**window(), "start": "yesterday"}, "start: Input should be a valid datetime"),
        ({**window(), "start": "2026-11-01T00:30:00Z"}, "start: 2026-11-01T00:30:00+00:00 is not a whole hour"),
        ({**window(), "start": "2026-11-01T00:00:00"}, "start: timestamp must carry a timezone"),
        ({**window(), "start": "2026-11-01T05:00:00Z"}, "day granularity: start must be midnight UTC"),
        (window(START, START), "end must be after start"),
        (window(START, NOW.replace(minute=0) + timedelta(days=1)), "the window ends in the future"),
        ({**window(START, START + timedelta(days=32)), "granularity": "hour"}, "granularity: hour covers at most 744"),
        ({**window(START, START + timedelta(days=32)), "group_by": "resource"}, "group_by: resource covers at most"),
    ],
)
def test_a_bad_parameter_answers_400_naming_it(deployed, query, problem):
    answer = get(PATH, query)
    assert answer.status == 400
    assert answer.json()["statusCode"] == 400
    assert answer.json()["message"].startswith(problem)


def test_a_caller_without_claims_gets_401_before_anything_about_their_parameters(deployed):
    answer = get(PATH, {**window(), "granularity": "week"}, signed_in=False)
    assert answer.status == 401
    assert "granularity" not in answer.body


def test_another_tenants_footprint_is_404_as_an_unknown_connection(deployed):
    answer = get("/api/v1/connections/acme-prod/footprint", window(), groups=[GLOBEX])
    assert answer.status == 404
    assert answer.json() == {"statusCode": 404, "message": "no connection named 'acme-prod'"}
    assert "energy" not in answer.body


def test_the_range_ends_where_it_is_asked(deployed):
    found = get(PATH, window(START, END - timedelta(days=1))).json()
    assert found["hours_in_range"] == 24
    assert {point["period_start"] for point in found["series"]} == {"2026-11-01T00:00:00Z"}


def test_an_answer_larger_than_lambda_returns_is_refused_whole(deployed, monkeypatch):
    # Given a bound smaller than the footprint by resource (the real one is 5 MB, under Lambda's 6 MB answer)
    query = {**window(), "group_by": "resource"}
    whole = get(PATH, query).body
    monkeypatch.setattr(tenancy, "LIMITS", ReadLimits(answer_bytes=len(whole)))
    answer = get(PATH, query)
    assert answer.status == 413
    assert answer.json() == {
        "statusCode": 413,
        "message": "the answer is larger than the API returns (0 MB): ask a shorter range or a coarser granularity, "
        "or run carbonmeter report, which has no such bound",
    }


BREAKDOWN = "/api/v1/connections/acme-prod/breakdown"
# Whole days, and hours cut at both edges
BREAKDOWN_WINDOWS = [(START, END), (START + timedelta(hours=5), END - timedelta(hours=4))]


def _cli_breakdown(capsys, query: dict[str, str], group_by: str) -> dict:
    capsys.readouterr()
    code = cli.main(
        ["report", "--connection-id", "acme-prod", "--start", query["start"], "--end", query["end"],
         "--breakdown", group_by, "--format", "json"]
    )  # fmt: skip
    assert code == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("start", "end"), BREAKDOWN_WINDOWS)
@pytest.mark.parametrize("group_by", ["service", "region"])
def test_the_breakdown_is_the_ranges_hours_added_up_and_the_cli_reports(deployed, capsys, start, end, group_by):
    query = window(start, end)
    # When the groups over the whole range are asked for
    found = get(BREAKDOWN, {**query, "group_by": group_by}).json()
    # Then they are `report --breakdown`'s, and each what the range's hours add up to for the group
    assert found == _cli_breakdown(capsys, query, group_by)
    hourly = get(PATH, {**query, "granularity": "hour", "group_by": group_by}).json()
    expected: dict[str, float] = {}
    for point in hourly["series"]:
        expected[point["group"]] = expected.get(point["group"], 0.0) + point["operational_kgco2e"]["central"]
    assert {group["group"]: group["operational_kgco2e"]["central"] for group in found["groups"]} == pytest.approx(
        expected
    )
    for name, figure in hourly["totals"].items():
        assert found["totals"][name] == pytest.approx(figure), name
    assert (found["hours_covered"], found["hours_in_range"]) == (hourly["hours_covered"], hourly["hours_in_range"])


def test_a_breakdown_by_resource_answers_400_naming_group_by(deployed):
    answer = get(BREAKDOWN, {**window(), "group_by": "resource"})
    assert answer.status == 400
    assert answer.json()["message"].startswith("group_by: resource is not in the roll-ups")


def test_another_tenants_breakdown_is_404_as_an_unknown_connection(deployed):
    answer = get(BREAKDOWN, window(), groups=[GLOBEX])
    assert answer.status == 404
    assert answer.json() == {"statusCode": 404, "message": "no connection named 'acme-prod'"}
