"""The top route through the real handler (moto): the CLI's ``report --top`` figures, over any range, for the
connection's own tenant only, and its parameters checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter import cli
from tests.support.api import END, GLOBEX, START, api_deployment, get, window

NOW = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)
PATH = "/api/v1/connections/acme-prod/top"


@pytest.fixture(scope="module")
def deployed():
    # One store for the module: every test here reads it, none writes.
    with api_deployment(NOW) as clients:
        yield clients


def _cli_top(capsys, query: dict[str, str], count: str) -> dict:
    capsys.readouterr()
    code = cli.main(["report", "--connection-id", "acme-prod", "--start", query["start"], "--end", query["end"],
                     "--top", count, "--format", "json"])  # fmt: skip
    assert code == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "query",
    [window(), window(START + timedelta(hours=5), END - timedelta(hours=2)), window(START, NOW.replace(minute=0))],
)
def test_the_top_is_the_cli_reports_figures_for_the_same_range(deployed, capsys, query):
    answer = get(PATH, {**query, "count": "2"})
    assert answer.status == 200
    found = answer.json()
    assert found == _cli_top(capsys, query, "2")
    # And it has its documented shape: the largest first, each with its figures, bounds and certainty
    assert [resource["resource_id"] for resource in found["resources"]] == ["i-2", "i-1"]
    first = found["resources"][0]
    assert set(first["operational_kgco2e"]) == {"central", "low", "high"}
    assert first["kgco2e"] == pytest.approx(
        first["operational_kgco2e"]["central"] + first["embodied_kgco2e"]["central"]
    )
    assert (first["rank"], first["exact"], first["rank_certain"]) == (1, True, True)
    assert found["exact"] is True
    assert found["hours_unknown"] == 0


def test_the_default_count_is_ten_and_lists_what_there_is(deployed):
    found = get(PATH, window()).json()
    assert found["count"] == 10
    assert [resource["rank"] for resource in found["resources"]] == [1, 2, 3]
    assert found["rest_most_kgco2e"] == 0.0
    assert found["hours_covered"] == found["hours_in_range"] == 48


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({**window(), "count": "0"}, "count: Input should be greater than or equal to 1"),
        ({**window(), "count": "51"}, "count: Input should be less than or equal to 50"),
        ({**window(), "count": "many"}, "count: Input should be a valid integer"),
        ({"end": window()["end"]}, "start: Field required"),
        ({**window(), "start": "2026-11-01T00:30:00Z"}, "start: 2026-11-01T00:30:00+00:00 is not a whole hour"),
        (window(START, START), "end must be after start"),
        (window(START, NOW.replace(minute=0) + timedelta(hours=1)), "the window ends in the future"),
    ],
)
def test_a_bad_parameter_answers_400_naming_it(deployed, query, problem):
    answer = get(PATH, query)
    assert answer.status == 400
    assert answer.json()["message"].startswith(problem)


def test_another_tenants_top_is_404_as_an_unknown_connection(deployed):
    answer = get(PATH, window(), groups=[GLOBEX])
    assert answer.status == 404
    assert answer.json() == {"statusCode": 404, "message": "no connection named 'acme-prod'"}
    assert "i-2" not in answer.body


def test_the_cli_refuses_a_count_beyond_what_the_periods_keep(deployed, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["report", "--connection-id", "acme-prod", "--last", "24", "--top", "51"])
    assert "at most 50" in capsys.readouterr().err


def test_the_cli_prints_the_top_as_a_table_with_its_bound(deployed, capsys):
    capsys.readouterr()
    query = window()
    assert cli.main(["report", "--connection-id", "acme-prod", "--start", query["start"], "--end", query["end"],
                     "--top", "2"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "CarbonMeter report: connection 'acme-prod', the 2 that emitted the most"
    ranked = [line.split()[:4] for line in lines if line.lstrip().startswith(("1 ", "2 "))]
    assert ranked == [["1", "ec2", "eu-west-1", "i-2"], ["2", "ec2", "us-east-1", "i-1"]]
    rest = get(PATH, {**query, "count": "2"}).json()["rest_most_kgco2e"]
    assert f"every resource not listed emitted at most {rest:.3g} kg CO2e" in text
    assert "hour(s) calculated before" not in text
