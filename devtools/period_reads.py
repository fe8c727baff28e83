"""The benchmark's roll-up figures: how many DynamoDB requests a year of one connection's footprint reads.

A year of one connection is stored as it would be after a year of hourly runs: a day item per day and a month
item per month, each holding every service in every region (the groups a real account's items hold). The year is
then read by month and by day, by service, through the same use case as ``report --granularity``, with every
DynamoDB request counted. Before the roll-ups, such a view read every one of the year's 8,760 hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import boto3

from carbonmeter import periods
from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR, Rollup, Service
from carbonmeter.periods import Granularity, GroupBy
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore
from devtools.aws.resources import create_resources
from devtools.aws.server import embedded_aws

CONNECTION = "benchmark"


@dataclass(frozen=True)
class PeriodReadFigures:
    regions: int
    services: int
    granularity: Granularity
    periods: int
    requests: int


def year_reads(year_start: datetime, regions: Sequence[str]) -> list[PeriodReadFigures]:
    """The DynamoDB requests of a year by month and by day, by service, for one connection on an embedded AWS."""
    with embedded_aws():
        clients = ClientFactory(boto3.Session(), settings=Settings.from_env())
        create_resources(clients, clients.settings)
        year_end = year_start.replace(year=year_start.year + 1)
        store_year(EmissionStore(clients, clients.settings.emissions_table), year_start, year_end, regions)
        return [_read(clients, year_start, year_end, granularity, regions) for granularity in _GRANULARITIES]


_GRANULARITIES = (Granularity.MONTH, Granularity.DAY)


def store_year(
    store: EmissionStore, start: datetime, end: datetime, regions: Sequence[str], connection_id: str = CONNECTION
) -> None:
    """A year of a connection's day and month roll-ups, every service in each region, as hourly runs leave it."""
    month = start
    while month < end:
        month_end = periods.period_end(month, Granularity.MONTH)
        days = [
            periods.day_from_hours(
                connection_id,
                day,
                benchmark_rollups(day, _groups(regions), connection_id=connection_id),
                24,
            )
            for day in (month + timedelta(days=n) for n in range((month_end - month).days))
        ]
        for day in days:
            store.put_period(day, 1)
        store.put_period(periods.month_from_days(connection_id, month, days, 24 * len(days)), 1)
        month = month_end


def _groups(regions: Sequence[str]) -> list[tuple[str, Service]]:
    return [(region, service) for region in regions for service in Service]


def benchmark_rollups(
    hour: datetime,
    groups: Iterable[tuple[str, Service]],
    flagged_resources: Mapping[str, int] | None = None,
    connection_id: str = CONNECTION,
) -> list[Rollup]:
    """One hour's roll-ups of the benchmark connection, the same figures for each (region, service) group."""
    return [
        Rollup(
            connection_id=connection_id,
            hour=hour,
            region=region,
            service=service,
            resources=10,
            energy_kwh=0.25,
            operational_kgco2e=0.1,
            embodied_kgco2e=0.02,
            methodology_version="benchmark",
            flagged_resources=dict(flagged_resources or {}),
        )
        for region, service in groups
    ]


def _read(
    base: ClientFactory, start: datetime, end: datetime, granularity: Granularity, regions: Sequence[str]
) -> PeriodReadFigures:
    counted = ClientFactory(base.session, settings=base.settings)
    store = EmissionStore(counted, counted.settings.emissions_table)
    found = periods.footprint(store, CONNECTION, start, end, granularity, GroupBy.SERVICE)
    return PeriodReadFigures(
        regions=len(regions),
        services=len(Service),
        granularity=granularity,
        periods=len({point.period_start for point in found.series}),
        requests=sum(count for call, count in counted.counter.calls.items() if call.startswith("dynamodb:")),
    )


def hours_in_year(start: datetime) -> int:
    return int((start.replace(year=start.year + 1) - start) / HOUR)
