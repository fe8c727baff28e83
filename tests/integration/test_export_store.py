"""Export and the footprint by resource against DynamoDB (moto): read as they are written, a page at a time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from carbonmeter import periods, queries
from carbonmeter.aws import ClientFactory
from carbonmeter.insights import export
from carbonmeter.models import HOUR, Rollup, Service
from carbonmeter.periods import Granularity, GroupBy
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore
from devtools.aws.resources import create_resources
from tests.support.connections import connection_for
from tests.support.estimates import emission_record

CONNECTION = "acme-prod"
START = datetime(2024, 3, 1, 12, tzinfo=UTC)  # emission_record's hour
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def clients(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        create_resources(factory, factory.settings)
        ConnectionStore(factory, factory.settings.connections_table).put(connection_for("us-east-1"))
        yield factory


@pytest.fixture
def store(clients) -> EmissionStore:
    return EmissionStore(clients, clients.settings.emissions_table)


def _store_hours(store: EmissionStore, hours: int, resources: int) -> None:
    for offset in range(hours):
        records = [
            emission_record(f"i-{n}", hour_offset=offset, scale=n + 1).model_copy(update={"connection_id": CONNECTION})
            for n in range(resources)
        ]
        store.replace_hour(CONNECTION, START + offset * HOUR, records, [])


def _queries(clients: ClientFactory) -> int:
    return clients.counter.calls.get("dynamodb:Query", 0)


def test_the_footprint_by_resource_adds_each_resource_over_the_stored_hours_one_query_an_hour(clients, store):
    # Given three resources stored for four hours
    _store_hours(store, hours=4, resources=3)
    before = _queries(clients)
    # When the report by resource reads those hours and two more with nothing stored
    found = queries.connection_footprint(
        clients, clients.settings, CONNECTION, (START, START + 6 * HOUR), Granularity.HOUR, GroupBy.RESOURCE, NOW
    )
    # Then each hour with records has a point per resource, i-n at (n + 1) kWh an hour
    assert len(found.series) == 12
    assert {p.group: p.energy_kwh.central for p in found.series if p.period_start == START} == pytest.approx(
        {"ec2/us-east-1/i-0": 1.0, "ec2/us-east-1/i-1": 2.0, "ec2/us-east-1/i-2": 3.0}
    )
    assert found.totals["energy_kwh"].central == pytest.approx(4 * (1 + 2 + 3))
    assert (found.hours_covered, found.hours_in_range) == (4, 6)
    # And it read one partition per hour of the window (each a page here)
    assert _queries(clients) - before == 6


def test_the_export_by_resource_yields_its_first_rows_before_reading_the_later_hours(clients, store):
    _store_hours(store, hours=5, resources=2)
    before = _queries(clients)
    rows = export.export_rows(
        clients, clients.settings, CONNECTION, (START, START + 5 * HOUR), Granularity.HOUR, GroupBy.RESOURCE, NOW
    )
    lines = export.csv_lines(rows)
    header, first = next(lines), next(lines)
    assert header.startswith("period_start,")
    assert first.startswith("2024-03-01T12:00:00Z,hour,resource,ec2/us-east-1/i-0,")
    # Only the first hour's partition has been read so far
    assert _queries(clients) - before == 1
    assert len(list(lines)) == 2 * 5 - 1
    assert _queries(clients) - before == 5


def _rollups(hour: datetime) -> list[Rollup]:
    return [
        Rollup(
            connection_id=CONNECTION,
            hour=hour,
            region=region,
            service=service,
            resources=4,
            energy_kwh=1.0,
            operational_kgco2e=0.4,
            embodied_kgco2e=0.1,
            methodology_version="1.0",
            flagged_resources={"cpu_default": 1},
        )
        for region in ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")
        for service in Service
    ]


def test_the_hourly_export_by_service_streams_the_roll_ups_a_page_at_a_time(clients, store):
    # Given 96 hours of roll-ups, 48 groups an hour: more than one 1 MB page of the connection's partition
    for offset in range(96):
        hour = START + offset * HOUR
        store.replace_hour(CONNECTION, hour, [], _rollups(hour))
    window = (START, START + 96 * HOUR)
    before = _queries(clients)
    rows = export.export_rows(clients, clients.settings, CONNECTION, window, Granularity.HOUR, GroupBy.SERVICE, NOW)
    # When the first row is taken, then the rest
    first = next(rows)
    after_first = _queries(clients) - before
    rest = list(rows)
    pages = _queries(clients) - before
    # Then the first row came from the first page, before the later pages were read
    assert pages > 1
    assert after_first == 1
    # And every hour has a row per service, each the sum of the hour's regions, with the flag raised
    assert len(rest) + 1 == 96 * len(Service)
    assert first.energy_kwh.central == pytest.approx(4.0)
    assert first.flags == ("cpu_default",)


def test_a_day_export_of_stored_days_writes_their_rows_as_csv(clients, store):
    # Given two calculated hours of one day, their day refreshed as the calculator does
    day = START.replace(hour=0)
    for offset in range(2):
        hour = START + offset * HOUR
        store.replace_hour(CONNECTION, hour, [], _rollups(hour))
        periods.refresh_periods(store, CONNECTION, hour)
    rows = export.export_rows(
        clients, clients.settings, CONNECTION, (day, day + timedelta(days=1)), Granularity.DAY, GroupBy.REGION, NOW
    )
    records = list(csv.DictReader(io.StringIO("".join(export.csv_lines(rows)))))
    assert [r["group"] for r in records] == ["ap-southeast-2", "eu-west-1", "us-east-1", "us-west-2"]
    assert {(r["hours_covered"], r["hours_in_period"]) for r in records} == {("2", "24")}
    assert float(records[0]["energy_kwh"]) == pytest.approx(2 * len(Service))
    assert records[0]["methodology_version"] == "1.0"
