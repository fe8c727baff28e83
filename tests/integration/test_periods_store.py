"""Day and month roll-ups in DynamoDB: written by generation, read a year at a time within the request budget."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from moto import mock_aws

from carbonmeter import keys, periods
from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR, Range, Rollup, Service, hour_key
from carbonmeter.periods import Granularity, GroupBy, PeriodRollup
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore, period_groups_attribute
from devtools.aws.resources import create_resources

CONNECTION = "acme"
DAY = datetime(2026, 11, 30, tzinfo=UTC)
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
# The budget of issue "insights": a year by month, by service, for one connection.
YEAR_BY_MONTH_REQUESTS = 15


@pytest.fixture
def clients(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        create_resources(factory, factory.settings)
        yield factory


@pytest.fixture
def store(clients) -> EmissionStore:
    return EmissionStore(clients, clients.settings.emissions_table)


def _rollups(hour: datetime, energy: float) -> list[Rollup]:
    return [
        Rollup(
            connection_id=CONNECTION,
            hour=hour,
            region=region,
            service=service,
            resources=3,
            energy_kwh=energy,
            operational_kgco2e=energy / 4,
            embodied_kgco2e=0.01,
            methodology_version="1.2",
            energy_kwh_range=Range(low=energy / 2, high=energy * 2),
        )
        for region in REGIONS
        for service in Service
    ]


def _calculate(store: EmissionStore, hour: datetime, energy: float) -> tuple[PeriodRollup, PeriodRollup]:
    store.replace_hour(CONNECTION, hour, [], _rollups(hour, energy))
    return periods.refresh_periods(store, CONNECTION, hour)


def test_the_stored_day_and_month_are_the_recomputation_of_their_parts(store):
    # Given four hours across a month boundary, calculated
    hours = [DAY + 22 * HOUR, DAY + 23 * HOUR, DAY + 24 * HOUR, DAY + 25 * HOUR]
    for hour in hours:
        _calculate(store, hour, 1.0)
    # Then each stored day holds its own hours only, and each month its days
    (november,) = store.periods(CONNECTION, Granularity.DAY, DAY, DAY + timedelta(days=1))
    assert november.hours_covered == 2
    ec2 = next(group for group in november.of(GroupBy.SERVICE) if group.group == Service.EC2)
    assert ec2.energy_kwh.central == pytest.approx(2 * len(REGIONS))
    assert ec2.energy_kwh.high == pytest.approx(4 * len(REGIONS))
    months = store.periods(CONNECTION, Granularity.MONTH, datetime(2026, 11, 1, tzinfo=UTC), DAY + timedelta(days=31))
    assert [(m.start.month, m.hours_covered, m.hours_in_period) for m in months] == [(11, 2, 720), (12, 2, 744)]


def test_recalculating_hours_leaves_every_stored_period_the_same(store):
    # Given three hours calculated
    for offset in range(3):
        _calculate(store, DAY + offset * HOUR, 1.0 + offset)
    window = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    before = (
        store.periods(CONNECTION, Granularity.DAY, *window),
        store.periods(CONNECTION, Granularity.MONTH, *window),
    )
    # When each is calculated again (a retry, a duplicate message, a backfill over them)
    for offset in (2, 0, 1, 1):
        _calculate(store, DAY + offset * HOUR, 1.0 + offset)
    # Then the days and months are exactly what they were
    after = (store.periods(CONNECTION, Granularity.DAY, *window), store.periods(CONNECTION, Granularity.MONTH, *window))
    assert after == before


def test_a_stale_refresh_is_refused_by_dynamodb(store):
    # Given a refresh that claimed generation 1 and one that claimed generation 2 and wrote first
    first = store.claim_period(CONNECTION, Granularity.DAY, DAY, DAY)
    second = store.claim_period(CONNECTION, Granularity.DAY, DAY, DAY + HOUR)
    later = periods.day_from_hours(CONNECTION, DAY, _rollups(DAY, 2.0), second.hours)
    assert store.put_period(later, second.generation)
    # When the earlier one writes its (stale) day
    stale = periods.day_from_hours(CONNECTION, DAY, _rollups(DAY, 1.0), first.hours)
    # Then the condition refuses it and the later day stays
    assert not store.put_period(stale, first.generation)
    assert store.periods(CONNECTION, Granularity.DAY, DAY, DAY + timedelta(days=1)) == [later]


def test_a_year_by_month_by_service_reads_within_the_request_budget(clients, store):
    # Given twelve months stored, three regions x every service each (the size a month item really has)
    start = datetime(2025, 12, 1, tzinfo=UTC)
    month = start
    for _ in range(12):
        days = [periods.day_from_hours(CONNECTION, month, _rollups(month, 1.0), 24)]
        store.put_period(periods.month_from_days(CONNECTION, month, days, 24), 1)
        month = periods.period_end(month, Granularity.MONTH)
    counted = ClientFactory(settings=clients.settings)
    # When the year is read by month and service
    found = periods.footprint(
        EmissionStore(counted, counted.settings.emissions_table),
        CONNECTION,
        start,
        month,
        Granularity.MONTH,
        GroupBy.SERVICE,
    )
    # Then it took at most the budget's DynamoDB requests, and every month and service is there
    requests = sum(n for call, n in counted.counter.calls.items() if call.startswith("dynamodb:"))
    assert requests <= YEAR_BY_MONTH_REQUESTS
    assert len(found.series) == 12 * len(Service)
    assert found.hours_in_range == 365 * 24
    assert found.totals["energy_kwh"].central == pytest.approx(12 * len(REGIONS) * len(Service))


def _legacy_day_item(period: PeriodRollup, calculated: set[str]) -> dict:
    """``period`` as stores before the compact groups wrote it: the groups as a list of nested maps."""
    item = json.loads(period.model_dump_json(exclude_none=True, exclude={"top"}), parse_float=Decimal)
    item.update(pk=CONNECTION, sk=keys.period_key(period.granularity, period.start))
    item.update(written_generation=1, generation=1, calculated_hours=calculated)
    return item


def test_a_day_stored_with_nested_groups_reads_the_same_and_its_rewrite_keeps_one_compact_attribute(clients, store):
    # Given a day calculated today, and the same day rewritten in the shape earlier versions stored
    hour = DAY + 3 * HOUR
    day, _ = _calculate(store, hour, 1.5)
    table = clients.resource("dynamodb").Table(clients.settings.emissions_table)
    table.put_item(Item=_legacy_day_item(day, {hour_key(hour)}))
    # When the day is read
    (read,) = store.periods(CONNECTION, Granularity.DAY, DAY, DAY + timedelta(days=1))
    # Then it holds exactly the figures it was written with (and no top: the shape kept none)
    assert read == day.model_copy(update={"top": None})
    (read,) = store.periods(CONNECTION, Granularity.DAY, DAY, DAY + timedelta(days=1), with_top=True)
    assert read.top is None
    # When the next hour of the day is calculated, the day is rewritten in the compact shape only
    _calculate(store, hour + HOUR, 2.5)
    stored = table.get_item(Key={"pk": CONNECTION, "sk": keys.period_key(Granularity.DAY, DAY)})["Item"]
    assert "groups" not in stored
    for group_by in (GroupBy.SERVICE, GroupBy.REGION, GroupBy.SERVICE_REGION):
        assert isinstance(stored[period_groups_attribute(group_by)], str)
    (rewritten,) = store.periods(CONNECTION, Granularity.DAY, DAY, DAY + timedelta(days=1))
    assert rewritten.hours_covered == 2
    assert len(rewritten.groups) == len(day.groups)


def test_a_stored_period_round_trips_every_figure_exactly(store):
    # Given hours whose figures have many significant digits
    day, month = _calculate(store, DAY, 1 / 3)
    # Then the day and month read back equal, float for float, what was computed
    assert store.periods(CONNECTION, Granularity.DAY, DAY, DAY + timedelta(days=1), with_top=True) == [day]
    assert store.periods(CONNECTION, Granularity.MONTH, month.start, DAY + timedelta(days=31), with_top=True) == [month]


def test_a_period_read_by_one_grouping_holds_that_grouping_alone_with_the_same_figures(store):
    # Given a calculated day
    day, _ = _calculate(store, DAY, 2.0)
    # When it is read by service only
    (by_service,) = store.periods(CONNECTION, Granularity.DAY, DAY, DAY + timedelta(days=1), GroupBy.SERVICE)
    # Then it holds the day's service groups, exactly, and no other grouping
    assert by_service.groups == tuple(day.of(GroupBy.SERVICE))
    assert (by_service.hours_covered, by_service.hours_in_period) == (day.hours_covered, day.hours_in_period)
    # And the footprint by region from the projected read equals the one computed from the whole day
    footprint = periods.footprint(store, CONNECTION, DAY, DAY + timedelta(days=1), Granularity.DAY, GroupBy.REGION)
    assert [point.group for point in footprint.series] == [group.group for group in day.of(GroupBy.REGION)]
    assert footprint.totals["energy_kwh"] == sum((g.energy_kwh for g in day.of(GroupBy.REGION)), periods.Figure())
