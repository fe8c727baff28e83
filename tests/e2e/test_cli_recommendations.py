"""``python -m carbonmeter recommendations`` on the embedded AWS, after the pipeline collected a few hours."""

from __future__ import annotations

import json

from carbonmeter import cli
from carbonmeter.insights import recommendations as rec
from carbonmeter.models import HOUR, hour_key
from tests.support.local_cloud import CONNECTION, register

HOURS = 2


def _collected(local_cloud, handlers_on):
    cloud = local_cloud(hours=HOURS)
    register(cloud)
    with handlers_on(cloud):
        for hour in cloud.hours:
            cloud.pipeline.run_hour(hour)
    return cloud


def test_recommendations_of_a_few_collected_hours_say_how_few_and_rank_what_they_can_judge(
    local_cloud, handlers_on, capsys
):
    # Given two hours of the demo account collected and calculated by the pipeline
    cloud = _collected(local_cloud, handlers_on)
    end = hour_key(cloud.hours[-1] + HOUR)
    capsys.readouterr()  # the handlers' log lines
    # When an operator asks for the connection's recommendations, as JSON and as text
    assert cli.main(["recommendations", "--connection-id", CONNECTION, "--end", end, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert cli.main(["recommendations", "--connection-id", CONNECTION, "--end", end]) == 0
    shown = capsys.readouterr()
    # Then they read two of the 336 hours wanted: too few to judge instances or volumes (30 hours at least), enough
    # for the buckets' latest Standard data, ranked, and the region moves, as information only
    assert (document["hours_read"], document["hours_wanted"]) == (HOURS, 14 * 24)
    changes = document["recommendations"]
    assert changes
    assert {change["rule"] for change in changes} == {rec.COLDER_STORAGE}
    savings = [change["saving_kgco2e_per_month"] for change in changes]
    assert savings == sorted(savings, reverse=True)
    assert all(change["saving_usd_per_month"] is None for change in changes)
    moves = {(move["region"], move["resource_type"]) for move in document["information"]}
    assert moves == {("eu-west-1", "eu-north-1"), ("us-east-1", "us-west-1"), ("ap-southeast-2", "ap-southeast-4")}
    assert all(move["informational"] for move in document["information"])
    assert f"at the rate of {HOURS} h of the 336 h (14 days)" in shown.out
    assert "For information, not recommended" in shown.out
    assert "DynamoDB request(s)" in shown.err


def test_an_unknown_connection_or_a_future_end_is_one_line_and_a_usage_exit(local_cloud, capsys):
    local_cloud(hours=1)
    assert cli.main(["recommendations", "--connection-id", "nobody"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip().splitlines() == ["error: no connection named 'nobody'"]
    assert cli.main(["recommendations", "--connection-id", CONNECTION, "--end", "2999-01-01T00:00:00Z"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: the window ends in the future")
