"""A connection's footprint over a window as rows, one per period and group, read lazily.

By service, by region and by service x region, the rows come from the roll-ups (an hour's, a day's or a
month's: ``carbonmeter.periods``). By resource they come from the hours' per-resource emission records, which no
roll-up keeps: one query per hour of the window (one partition each, a page per MB), added up per period as they
are read. Either way the rows are yielded as the pages arrive, so a year of hourly rows is never held at once:
``report --granularity`` gathers them into a ``Footprint``, ``export`` writes each as it comes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from carbonmeter import periods
from carbonmeter.models import HOUR, EmissionRecord, Rollup, hours_between
from carbonmeter.periods import FIGURES, Figure, Footprint, Granularity, GroupBy, GroupFigures, PeriodRollup


class FootprintRow(BaseModel):
    """One group's figures over one period, with what the period covers and what shaped the figures.

    ``hours_covered``: the period's hours with stored figures (by resource: the hours that held records);
    ``flags``: every flag raised on a resource of the group in the period; ``resource_types``: by resource, the
    types its records had (a bucket's storage classes, an instance resized within the period).
    """

    model_config = ConfigDict(frozen=True)

    period_start: datetime
    granularity: Granularity
    group_by: GroupBy
    group: str
    service: str | None = None
    region: str | None = None
    resource_id: str | None = None
    resource_types: tuple[str, ...] = ()
    resources: int
    hours_covered: int
    hours_in_period: int
    energy_kwh: Figure
    operational_kgco2e: Figure
    embodied_kgco2e: Figure
    methodology_versions: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


class SeriesLedger(Protocol):
    """What the rows are read from (``carbonmeter.store.EmissionStore`` in production)."""

    def iter_rollups(self, connection_id: str, start: datetime, end: datetime) -> Iterator[Rollup]: ...

    def iter_periods(
        self,
        connection_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        group_by: GroupBy | None = None,
    ) -> Iterator[PeriodRollup]: ...

    def read_hour(self, connection_id: str, hour: datetime) -> list[EmissionRecord]: ...


def rows(
    ledger: SeriesLedger,
    connection_id: str,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    group_by: GroupBy,
) -> Iterator[FootprintRow]:
    """Every row of [start, end), period after period (in each, by group), read as they are taken.

    The window must start and end on the periods' bounds (``periods.check_aligned``), checked at once.
    """
    periods.check_aligned(start, end, granularity)
    if group_by is GroupBy.RESOURCE:
        return _resource_rows(ledger, connection_id, start, end, granularity)
    if granularity is Granularity.HOUR:
        return _hour_rows(ledger.iter_rollups(connection_id, start, end), group_by)
    return (
        row
        for period in ledger.iter_periods(connection_id, granularity, start, end, group_by)
        for row in _period_rows(period, group_by)
    )


def footprint(
    ledger: SeriesLedger,
    connection_id: str,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    group_by: GroupBy,
) -> Footprint:
    """The footprint over [start, end) by period and group: the rows, gathered (``report --granularity``)."""
    found = list(rows(ledger, connection_id, start, end, granularity, group_by))
    series = tuple(
        periods.SeriesPoint(
            period_start=row.period_start, group=row.group, **{name: getattr(row, name) for name in FIGURES}
        )
        for row in found
    )
    covered = {row.period_start: row.hours_covered for row in found}
    return Footprint(
        start=start,
        end=end,
        granularity=granularity,
        group_by=group_by,
        totals={name: sum((getattr(point, name) for point in series), Figure()) for name in FIGURES},
        series=series,
        hours_covered=sum(covered.values()),
        hours_in_range=int((end - start) / HOUR),
    )


def _hour_rows(rollups: Iterable[Rollup], group_by: GroupBy) -> Iterator[FootprintRow]:
    # Roll-ups come in sort-key order, hour first: one hour's are consecutive.
    for hour, of_hour in itertools.groupby(rollups, key=lambda rollup: rollup.hour):
        parts = list(of_hour)
        period = PeriodRollup(
            connection_id=parts[0].connection_id,
            granularity=Granularity.HOUR,
            start=hour,
            hours_covered=1,
            hours_in_period=1,
            methodology_versions=tuple(sorted({rollup.methodology_version for rollup in parts})),
            groups=periods.hour_groups(parts),
        )
        yield from _period_rows(period, group_by)


def _period_rows(period: PeriodRollup, group_by: GroupBy) -> Iterator[FootprintRow]:
    for group in period.of(group_by):
        yield FootprintRow(
            period_start=period.start,
            granularity=period.granularity,
            group_by=group_by,
            group=group.group,
            **_where(group),
            resources=group.resources,
            hours_covered=period.hours_covered,
            hours_in_period=period.hours_in_period,
            energy_kwh=group.energy_kwh,
            operational_kgco2e=group.operational_kgco2e,
            embodied_kgco2e=group.embodied_kgco2e,
            methodology_versions=period.methodology_versions,
            flags=tuple(sorted(group.flagged_resources)),
        )


def _where(group: GroupFigures) -> dict[str, str]:
    if group.group_by is GroupBy.SERVICE:
        return {"service": group.group}
    if group.group_by is GroupBy.REGION:
        return {"region": group.group}
    service, region = group.group.split("/", 1)
    return {"service": service, "region": region}


_ResourceKey = tuple[str, str, str]


class _ResourceTotal:
    """One resource's figures over the hours of a period read so far."""

    def __init__(self) -> None:
        self.figures = {name: Figure() for name in FIGURES}
        self.types: set[str] = set()
        self.versions: set[str] = set()
        self.flags: set[str] = set()

    def add(self, record: EmissionRecord) -> None:
        for name in FIGURES:
            self.figures[name] = self.figures[name] + _record_figure(record, name)
        self.types.add(record.resource_type)
        self.versions.add(record.methodology_version)
        self.flags.update(record.flags)


def _record_figure(record: EmissionRecord, name: str) -> Figure:
    central: float = getattr(record, name)
    bounds = getattr(record, f"{name}_range")
    if bounds is None:
        return Figure(central=central, low=central, high=central)
    return Figure(central=central, low=bounds.low, high=bounds.high)


def _resource_rows(
    ledger: SeriesLedger, connection_id: str, start: datetime, end: datetime, granularity: Granularity
) -> Iterator[FootprintRow]:
    """Per period, the hours' records read one hour partition at a time and added up per resource.

    What is held at once is one period's resources (a connection's fleet), never its hours' records.
    """
    period = periods.period_start(start, granularity)
    while period < end:
        period_end = min(periods.period_end(period, granularity), end)
        totals: dict[_ResourceKey, _ResourceTotal] = {}
        covered = 0
        for hour in hours_between(period, period_end):
            records = ledger.read_hour(connection_id, hour)
            covered += 1 if records else 0
            for record in records:
                key = (str(record.service), record.region, record.resource_id)
                totals.setdefault(key, _ResourceTotal()).add(record)
        yield from _resource_period_rows(period, granularity, totals, covered)
        period = period_end


def _resource_period_rows(
    period: datetime, granularity: Granularity, totals: dict[_ResourceKey, _ResourceTotal], covered: int
) -> Iterator[FootprintRow]:
    for (service, region, resource_id), total in sorted(totals.items()):
        yield FootprintRow(
            period_start=period,
            granularity=granularity,
            group_by=GroupBy.RESOURCE,
            group=f"{service}/{region}/{resource_id}",
            service=service,
            region=region,
            resource_id=resource_id,
            resource_types=tuple(sorted(total.types)),
            resources=1,
            hours_covered=covered,
            hours_in_period=periods.hours_in(period, granularity),
            methodology_versions=tuple(sorted(total.versions)),
            flags=tuple(sorted(total.flags)),
            **total.figures,
        )


__all__ = ["FootprintRow", "SeriesLedger", "footprint", "rows"]
