"""Top resources on DynamoDB (moto): kept by each calculated hour, merged into days and months, read over a range in
a handful of requests, equal to the exact by-resource sums in a small fleet, and unchanged by recalculation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from carbonmeter import keys, periods, series
from carbonmeter.aws import ClientFactory
from carbonmeter.calculate_step import calculate_connection_hour
from carbonmeter.emissions import rollup
from carbonmeter.models import HOUR, CalculateJob, EmissionRecord
from carbonmeter.periods import Granularity, GroupBy
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore, UsageStore
from carbonmeter.top_resources import TopResources, top_resources
from devtools.aws.resources import create_resources
from tests.support.records import ec2_usage
from tests.support.tops import fleet_hours

CONNECTION = "acme"
# Over a month's end, starting and ending within days: hours, a day, hours of the next month.
START = datetime(2026, 11, 29, 20, tzinfo=UTC)
END = datetime(2026, 12, 1, 4, tzinfo=UTC)
# A year's range reads at most: two of hours at each ragged end, a query of days at each side, one of months.
YEAR_TOP_REQUESTS = 7


@pytest.fixture
def clients(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        settings = create_resources(factory, factory.settings)
        yield ClientFactory(settings=settings)


@pytest.fixture
def store(clients) -> EmissionStore:
    return EmissionStore(clients, clients.settings.emissions_table)


def _calculate(store: EmissionStore, hour: datetime, records: list[EmissionRecord]) -> None:
    """What the calculator stores for an hour: its records and roll-ups (and so its top), then its day and month."""
    store.replace_hour(CONNECTION, hour, records, rollup(records))
    periods.refresh_periods(store, CONNECTION, hour)


def _exact(store: EmissionStore, start: datetime, end: datetime) -> dict[str, float]:
    """Each resource's central kg CO2e over the range, from its hours' records (one query per hour)."""
    found = series.footprint(store, CONNECTION, start, end, Granularity.HOUR, GroupBy.RESOURCE)
    sums: dict[str, float] = {}
    for point in found.series:
        sums[point.group] = (
            sums.get(point.group, 0.0) + point.operational_kgco2e.central + point.embodied_kgco2e.central
        )
    return sums


def _listed(found: TopResources) -> dict[str, float]:
    return {f"{r.service}/{r.region}/{r.resource_id}": r.kgco2e for r in found.resources}


def test_the_top_over_a_range_is_the_exact_by_resource_sums_of_a_small_fleet(store):
    # Given a small fleet calculated hour by hour across a month's end
    for hour, records in fleet_hours(CONNECTION, START, END, resources=8, present=0.75).items():
        _calculate(store, hour, records)
    # When the top 5 is read over the whole range and over a range within it
    for start, end in ((START, END), (START + 3 * HOUR, END - HOUR)):
        found = top_resources(store, CONNECTION, start, end, 5)
        exact = _exact(store, start, end)
        # Then it is the five largest with their exact sums, every rank certain
        largest = sorted(exact, key=lambda group: -exact[group])[:5]
        assert list(_listed(found)) == largest
        assert _listed(found) == pytest.approx({group: exact[group] for group in largest})
        assert found.exact
        assert found.hours_unknown == 0
        assert found.hours_covered == found.hours_in_range == int((end - start) / HOUR)
        assert found.rest_most_kgco2e == pytest.approx(sorted(exact.values(), reverse=True)[5])


def test_recalculating_an_hour_replaces_its_top_rather_than_adding_to_it(store):
    # Given the fleet calculated once
    hours = fleet_hours(CONNECTION, START, END, resources=6)
    for hour, records in hours.items():
        _calculate(store, hour, records)
    before = top_resources(store, CONNECTION, START, END, 6)
    # When an hour is calculated again with the same records, and another again with one resource gone
    _calculate(store, START + 5 * HOUR, hours[START + 5 * HOUR])
    assert top_resources(store, CONNECTION, START, END, 6) == before
    changed = START + 30 * HOUR
    _calculate(store, changed, hours[changed][1:])
    # Then the top is the new records' exact sums, the old hour's figures counted nowhere
    after = top_resources(store, CONNECTION, START, END, 6)
    assert _listed(after) == pytest.approx(_exact(store, START, END))
    assert after != before


def test_a_day_stored_before_tops_were_kept_is_unknown_until_its_hours_are_recalculated(clients, store):
    # Given two whole days, the first stored before tops were kept (no top on the day, none on its hours)
    day = datetime(2026, 11, 10, tzinfo=UTC)
    hours = fleet_hours(CONNECTION, day, day + timedelta(days=2), resources=4)
    for hour, records in hours.items():
        _calculate(store, hour, records)
    table = clients.resource("dynamodb").Table(clients.settings.emissions_table)
    table.update_item(Key={"pk": CONNECTION, "sk": keys.period_key("day", day)}, UpdateExpression="REMOVE #t",
                      ExpressionAttributeNames={"#t": "top"})  # fmt: skip
    for hour in list(hours)[:24]:
        table.delete_item(Key={"pk": CONNECTION, "sk": keys.hour_top_key(hour)})
    # When the top of both days is read
    found = top_resources(store, CONNECTION, day, day + timedelta(days=2), 3)
    # Then the first day's hours are unknown, and the answer says it is not exact
    assert found.hours_unknown == 24
    assert not found.exact
    # When one of its hours is recalculated, the day has a top again, its other hours still unknown
    _calculate(store, day + 2 * HOUR, hours[day + 2 * HOUR])
    (stored,) = store.period_tops(CONNECTION, Granularity.DAY, day, day + timedelta(days=1))
    assert stored.top is not None
    assert stored.top.hours_unknown == 23
    assert top_resources(store, CONNECTION, day, day + timedelta(days=2), 3).hours_unknown == 23


def test_a_year_of_top_resources_reads_a_handful_of_items_and_the_footprint_reads_leave_the_top_out(clients, store):
    # Given hours calculated in three months of a year
    for month in (1, 6, 11):
        for hour, records in fleet_hours(CONNECTION, datetime(2026, month, 3, tzinfo=UTC),
                                         datetime(2026, month, 3, 3, tzinfo=UTC), resources=5).items():  # fmt: skip
            _calculate(store, hour, records)
    counted = ClientFactory(settings=clients.settings)
    # When the top of a year and some hours is read
    found = top_resources(
        EmissionStore(counted, counted.settings.emissions_table),
        CONNECTION,
        datetime(2025, 12, 2, 5, tzinfo=UTC),
        datetime(2026, 12, 2, 3, tzinfo=UTC),
        10,
    )
    # Then it took at most the budget's requests, and found every resource of every month
    requests = sum(n for call, n in counted.counter.calls.items() if call.startswith("dynamodb:"))
    assert requests <= YEAR_TOP_REQUESTS
    assert found.hours_covered == 9
    assert len(found.resources) == 5
    assert found.exact
    # And a footprint's read of the periods carries no top
    (day,) = store.periods(
        CONNECTION, Granularity.DAY, datetime(2026, 6, 3, tzinfo=UTC), datetime(2026, 6, 4, tzinfo=UTC)
    )
    assert day.top is None


def test_the_calculator_keeps_each_hours_top(clients):
    # Given an hour's usage of two instances, collected
    settings = clients.settings
    hour = datetime(2026, 11, 23, 10, tzinfo=UTC)
    usage = [ec2_usage(connection_id=CONNECTION, hour=hour, resource_id=f"i-{n}", cpu_utilization_pct=20.0 * n)
             for n in (1, 2)]  # fmt: skip
    UsageStore(clients, settings.usage_table).replace_hour(CONNECTION, hour, usage)
    # When the calculator calculates it
    calculate_connection_hour(CalculateJob(connection_id=CONNECTION, hour=hour), clients, settings,
                              now=hour + timedelta(hours=3))  # fmt: skip
    # Then the hour's top lists both, the busier first, and its day's and month's tops hold them
    store = EmissionStore(clients, settings.emissions_table)
    (top,) = store.hour_tops(CONNECTION, hour, hour + HOUR).values()
    assert [resource.resource_id for resource in top.resources] == ["i-2", "i-1"]
    for granularity in (Granularity.DAY, Granularity.MONTH):
        (period,) = store.period_tops(CONNECTION, granularity, periods.period_start(hour, granularity), hour + HOUR)
        assert period.top is not None
        assert [resource.resource_id for resource in period.top.resources] == ["i-2", "i-1"]
