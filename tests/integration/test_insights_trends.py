"""The demo report's "Trends" part, over day roll-ups stored as the calculator stores them (moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from carbonmeter import periods
from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR, Rollup, Service, hours_between
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore
from devtools.aws.resources import create_resources
from devtools.insights import INSIGHT_PARTS, InsightContext
from devtools.insights.trends import trends_text

END = datetime(2026, 12, 1, 9, tzinfo=UTC)
START = END - timedelta(hours=48)


@pytest.fixture
def context(aws_credentials):
    with mock_aws():
        clients = ClientFactory(settings=Settings())
        create_resources(clients, clients.settings)
        store = EmissionStore(clients, clients.settings.emissions_table)
        for hour in hours_between(START, END):
            # 1 kg an hour on the first day, 1.5 kg an hour after it
            kg = 1.0 if hour.day == 29 else 1.5
            rollup = Rollup(
                connection_id="demo",
                hour=hour,
                region="us-east-1",
                service=Service.EC2,
                resources=2,
                energy_kwh=2.0,
                operational_kgco2e=kg * 0.8,
                embodied_kgco2e=kg * 0.2,
                methodology_version="1",
            )
            store.replace_hour("demo", hour, [], [rollup])
            periods.refresh_periods(store, "demo", hour)
        yield InsightContext(clients.settings, clients, "demo", START, END)


def test_the_trends_part_gives_each_day_its_hour_count_and_the_change_per_hour(context):
    text = trends_text(context)
    lines = text.splitlines()
    assert lines[0].startswith("Trends")
    day_rows = [line for line in lines if line.startswith("2026-")]
    assert [row.split()[:2] for row in day_rows] == [["2026-11-29", "15/24"], ["2026-11-30", "24/24"],
                                                     ["2026-12-01", "9/24"]]  # fmt: skip
    assert day_rows[0].rstrip().endswith("-")
    assert day_rows[1].rstrip().endswith("+50.0%")
    assert day_rows[2].rstrip().endswith("+0.0%")
    assert "2 of 3 day(s) partial" in text
    # And it is the first part of the demo report's insights section, printed the same every time
    # (the other parts read what only the demo stores: its connection, its queued costs)
    assert INSIGHT_PARTS[0] is trends_text
    assert trends_text(context) == text


def test_nothing_stored_says_nothing(context):
    empty = InsightContext(context.settings, context.clients, "nobody", START, START + HOUR)
    assert trends_text(empty) == ""
