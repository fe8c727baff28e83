"""Daily and monthly roll-ups of a connection's footprint, and the footprint over a range from them.

A period (a UTC day or month) holds, per group (by service, by region, and by service x region), the central,
low and high energy and operational and embodied CO2e, and the count of its hours that were calculated. It is
recomputed from its parts every time one of them changes, never incremented: a day from the day's hourly
roll-ups, a month from its days. Recalculating an hour, or collecting it twice, therefore leaves every period as
it was. Two calculators finishing hours of the same day at once cannot lose either hour: see ``refresh_periods``.
"""

from __future__ import annotations

import calendar
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from carbonmeter import tops
from carbonmeter.models import HOUR, Figure, Rollup
from carbonmeter.tops import ResourceTop

FIGURES = ("energy_kwh", "operational_kgco2e", "embodied_kgco2e")


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class GroupBy(StrEnum):
    SERVICE = "service"
    REGION = "region"
    SERVICE_REGION = "service_region"
    # Not a roll-up group: read from the hours' per-resource records (``carbonmeter.series``).
    RESOURCE = "resource"


class GroupFigures(BaseModel):
    """One group's totals over a period: ``group`` is a service, a region, or ``service/region``."""

    model_config = ConfigDict(frozen=True)

    group_by: GroupBy
    group: str
    resources: int = 0
    energy_kwh: Figure = Figure()
    operational_kgco2e: Figure = Figure()
    embodied_kgco2e: Figure = Figure()
    # How many of the group's resources carry each flag; like ``resources``, the most in any one hour. Empty in
    # periods stored before it was kept.
    flagged_resources: dict[str, int] = {}

    def plus(
        self, other: GroupFigures, resources: int, combine: Callable[[int, int], int] = operator.add
    ) -> GroupFigures:
        flags = dict(self.flagged_resources)
        for flag, count in other.flagged_resources.items():
            flags[flag] = combine(flags.get(flag, 0), count)
        return GroupFigures(
            group_by=self.group_by,
            group=self.group,
            resources=resources,
            energy_kwh=self.energy_kwh + other.energy_kwh,
            operational_kgco2e=self.operational_kgco2e + other.operational_kgco2e,
            embodied_kgco2e=self.embodied_kgco2e + other.embodied_kgco2e,
            flagged_resources=dict(sorted(flags.items())),
        )


class PeriodRollup(BaseModel):
    """One connection's footprint over one UTC day or month, by group, and how much of the period it covers."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    granularity: Granularity
    start: datetime
    hours_covered: int
    hours_in_period: int
    methodology_versions: tuple[str, ...] = ()
    groups: tuple[GroupFigures, ...] = ()
    # Its largest resources (``carbonmeter.tops``); None in periods stored before tops were kept, or read without.
    top: ResourceTop | None = None

    def of(self, group_by: GroupBy) -> list[GroupFigures]:
        return [group for group in self.groups if group.group_by == group_by]


def period_start(hour: datetime, granularity: Granularity) -> datetime:
    """The start of the day or month (UTC) holding ``hour``."""
    hour = hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if granularity is Granularity.HOUR:
        return hour
    day = hour.replace(hour=0)
    return day if granularity is Granularity.DAY else day.replace(day=1)


def period_end(start: datetime, granularity: Granularity) -> datetime:
    if granularity is Granularity.HOUR:
        return start + HOUR
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    return start + timedelta(days=calendar.monthrange(start.year, start.month)[1])


def hours_in(start: datetime, granularity: Granularity) -> int:
    return int((period_end(start, granularity) - start) / HOUR)


def day_from_hours(
    connection_id: str,
    day: datetime,
    rollups: Iterable[Rollup],
    hours: int,
    hour_tops: Mapping[datetime, ResourceTop] | None = None,
) -> PeriodRollup:
    """A day recomputed from its hourly roll-ups; ``hours``: how many of its hours have been calculated;
    ``hour_tops``: its hours' tops, merged into the day's (an hour with roll-ups but no top counts as unknown)."""
    parts = list(rollups)
    by_hour = _by_hour(parts)
    top = None
    if hour_tops is not None:
        unknown = len(set(by_hour) - set(hour_tops))
        top = tops.merge([hour_tops[hour] for hour in sorted(hour_tops)], hours_unknown=unknown)
    return PeriodRollup(
        connection_id=connection_id,
        granularity=Granularity.DAY,
        start=day,
        hours_covered=hours,
        hours_in_period=hours_in(day, Granularity.DAY),
        methodology_versions=tuple(sorted({rollup.methodology_version for rollup in parts})),
        groups=_over_time(hour_groups(rollups) for rollups in by_hour.values()),
        top=top,
    )


def month_from_days(connection_id: str, month: datetime, days: Iterable[PeriodRollup], hours: int) -> PeriodRollup:
    """A month recomputed from its days; ``hours``: how many of its hours have been calculated. Its top merges
    the days' (a day without one, stored before tops were kept, counts its hours as unknown)."""
    parts = list(days)
    unknown = sum(day.hours_covered for day in parts if day.top is None)
    return PeriodRollup(
        connection_id=connection_id,
        granularity=Granularity.MONTH,
        start=month,
        hours_covered=hours,
        hours_in_period=hours_in(month, Granularity.MONTH),
        methodology_versions=tuple(sorted({v for day in parts for v in day.methodology_versions})),
        groups=_over_time(day.groups for day in parts),
        top=tops.merge([day.top for day in parts if day.top is not None], hours_unknown=unknown),
    )


def _by_hour(rollups: Iterable[Rollup]) -> dict[datetime, list[Rollup]]:
    by_hour: dict[datetime, list[Rollup]] = defaultdict(list)
    for rollup in rollups:
        by_hour[rollup.hour].append(rollup)
    return dict(sorted(by_hour.items()))


def hour_groups(rollups: Iterable[Rollup]) -> tuple[GroupFigures, ...]:
    """One hour's groups: a region's services, or a service's regions, add up, resources included."""
    totals: dict[tuple[GroupBy, str], GroupFigures] = {}
    for rollup in rollups:
        figures = {name: _figure(rollup, name) for name in FIGURES}
        for group_by, group in (
            (GroupBy.SERVICE, str(rollup.service)),
            (GroupBy.REGION, rollup.region),
            (GroupBy.SERVICE_REGION, f"{rollup.service}/{rollup.region}"),
        ):
            part = GroupFigures(
                group_by=group_by,
                group=group,
                resources=rollup.resources,
                flagged_resources=dict(sorted(rollup.flagged_resources.items())),
                **figures,
            )
            known = totals.get((group_by, group))
            totals[(group_by, group)] = part if known is None else known.plus(part, known.resources + part.resources)
    return tuple(totals[key] for key in sorted(totals))


def _figure(rollup: Rollup, name: str) -> Figure:
    central: float = getattr(rollup, name)
    bounds = getattr(rollup, f"{name}_range")
    if bounds is None:
        return Figure(central=central, low=central, high=central)
    return Figure(central=central, low=bounds.low, high=bounds.high)


def _over_time(parts: Iterable[Sequence[GroupFigures]]) -> tuple[GroupFigures, ...]:
    """Periods' groups added up; resources are the most in any one period, a count of things, not of hours."""
    totals: dict[tuple[GroupBy, str], GroupFigures] = {}
    for groups in parts:
        for group in groups:
            key = (group.group_by, group.group)
            known = totals.get(key)
            totals[key] = group if known is None else known.plus(group, max(known.resources, group.resources), max)
    return tuple(totals[key] for key in sorted(totals))


@dataclass(frozen=True)
class Claim:
    """A refresh's turn at a period: its generation, and how many of the period's hours are calculated so far."""

    generation: int
    hours: int


class PeriodLedger(Protocol):
    """What refreshing the periods needs of the store (``carbonmeter.store.PeriodStore`` in production)."""

    def claim_period(self, connection_id: str, granularity: Granularity, start: datetime, hour: datetime) -> Claim: ...

    def rollups(self, connection_id: str, start: datetime, end: datetime) -> list[Rollup]: ...

    def hour_tops(self, connection_id: str, start: datetime, end: datetime) -> dict[datetime, ResourceTop]: ...

    def periods(
        self,
        connection_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        group_by: GroupBy | None = None,
        *,
        with_top: bool = False,
    ) -> list[PeriodRollup]: ...

    def put_period(self, period: PeriodRollup, generation: int) -> bool: ...


def refresh_periods(ledger: PeriodLedger, connection_id: str, hour: datetime) -> tuple[PeriodRollup, PeriodRollup]:
    """Recompute the day and the month holding ``hour`` from their parts, after the hour's roll-ups were written.

    Each refresh first claims a generation of its period, then reads the parts, then writes only if no later
    generation has written meanwhile: the refresh that claimed last read every part written before it.
    """
    day = period_start(hour, Granularity.DAY)
    claim = ledger.claim_period(connection_id, Granularity.DAY, day, hour)
    day_end = period_end(day, Granularity.DAY)
    rollups = ledger.rollups(connection_id, day, day_end)
    daily = day_from_hours(connection_id, day, rollups, claim.hours, ledger.hour_tops(connection_id, day, day_end))
    ledger.put_period(daily, claim.generation)
    month = period_start(hour, Granularity.MONTH)
    claim = ledger.claim_period(connection_id, Granularity.MONTH, month, hour)
    days = ledger.periods(connection_id, Granularity.DAY, month, period_end(month, Granularity.MONTH), with_top=True)
    monthly = month_from_days(connection_id, month, days, claim.hours)
    ledger.put_period(monthly, claim.generation)
    return daily, monthly


class SeriesPoint(BaseModel):
    """One group's figures in one period of a footprint's series."""

    model_config = ConfigDict(frozen=True)

    period_start: datetime
    group: str
    energy_kwh: Figure
    operational_kgco2e: Figure
    embodied_kgco2e: Figure


class Footprint(BaseModel):
    """A connection's footprint over [start, end): totals, a series per period and group, and its coverage."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    granularity: Granularity
    group_by: GroupBy
    totals: dict[str, Figure]
    series: tuple[SeriesPoint, ...]
    hours_covered: int
    hours_in_range: int


class FootprintLedger(Protocol):
    def rollups(self, connection_id: str, start: datetime, end: datetime) -> list[Rollup]: ...

    def periods(
        self,
        connection_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        group_by: GroupBy | None = None,
    ) -> list[PeriodRollup]: ...


class FootprintWindowError(ValueError):
    """A window that does not fall on the periods of the granularity asked for."""


def footprint(
    ledger: FootprintLedger,
    connection_id: str,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    group_by: GroupBy,
) -> Footprint:
    """The footprint over [start, end), read from the roll-ups of the granularity (hours, days or months).

    A day or month view reads one item per period: a year by month is a single query. Its window must start and
    end on the periods' bounds (UTC), so that every figure is a whole period's. By resource, see
    ``carbonmeter.series.footprint``: resources are not in the roll-ups.
    """
    if group_by is GroupBy.RESOURCE:
        raise ValueError("resources are not in the roll-ups: carbonmeter.series.footprint reads them")
    check_aligned(start, end, granularity)
    periods = _periods(ledger, connection_id, start, end, granularity, group_by)
    series = tuple(
        SeriesPoint(period_start=period.start, group=group.group, **{name: getattr(group, name) for name in FIGURES})
        for period in periods
        for group in period.of(group_by)
    )
    totals = {name: sum((getattr(point, name) for point in series), Figure()) for name in FIGURES}
    return Footprint(
        start=start,
        end=end,
        granularity=granularity,
        group_by=group_by,
        totals=totals,
        series=series,
        hours_covered=sum(period.hours_covered for period in periods),
        hours_in_range=int((end - start) / HOUR),
    )


class GroupTotal(BaseModel):
    """One group's figures over a whole range."""

    model_config = ConfigDict(frozen=True)

    group: str
    energy_kwh: Figure
    operational_kgco2e: Figure
    embodied_kgco2e: Figure


class Breakdown(BaseModel):
    """A connection's groups over the whole of [start, end), largest central CO2e first, with their totals."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    group_by: GroupBy
    totals: dict[str, Figure]
    groups: tuple[GroupTotal, ...]
    hours_covered: int
    hours_in_range: int


def cover(start: datetime, end: datetime) -> list[tuple[Granularity, datetime, datetime]]:
    """[start, end) as the fewest stored periods: the whole months inside it, then the whole days, then hours.

    A year is some twelve month items and the days and hours at its two edges, instead of 365 day items.
    """
    first_day, last_day = _first_start(start, Granularity.DAY), period_start(end, Granularity.DAY)
    if first_day >= last_day:
        return [(Granularity.HOUR, start, end)] if start < end else []
    first_month, last_month = _first_start(first_day, Granularity.MONTH), period_start(last_day, Granularity.MONTH)
    if first_month >= last_month:
        inside = [(Granularity.DAY, first_day, last_day)]
    else:
        inside = [
            (Granularity.DAY, first_day, first_month),
            (Granularity.MONTH, first_month, last_month),
            (Granularity.DAY, last_month, last_day),
        ]
    segments = [(Granularity.HOUR, start, first_day), *inside, (Granularity.HOUR, last_day, end)]
    return [(granularity, left, right) for granularity, left, right in segments if left < right]


def _first_start(moment: datetime, granularity: Granularity) -> datetime:
    """The first start of a period of ``granularity`` at or after ``moment``."""
    found = period_start(moment, granularity)
    return found if found == moment else period_end(found, granularity)


def breakdown(
    ledger: FootprintLedger, connection_id: str, start: datetime, end: datetime, group_by: GroupBy
) -> Breakdown:
    """The groups' figures over the whole of [start, end) (whole hours), read from the largest roll-ups that fit.

    The same sums as a footprint by hour over the window, added up per group, in a few reads: the page's
    breakdowns of a year ask this instead of 365 days of every group.
    """
    if group_by is GroupBy.RESOURCE:
        raise ValueError("resources are not in the roll-ups: carbonmeter.series.footprint reads them")
    check_aligned(start, end, Granularity.HOUR)
    found = [
        period
        for granularity, left, right in cover(start, end)
        for period in _periods(ledger, connection_id, left, right, granularity, group_by)
    ]
    summed = sorted(
        _over_time(period.of(group_by) for period in found),
        key=lambda group: -(group.operational_kgco2e.central + group.embodied_kgco2e.central),
    )
    groups = tuple(
        GroupTotal(group=group.group, **{name: getattr(group, name) for name in FIGURES}) for group in summed
    )
    return Breakdown(
        start=start,
        end=end,
        group_by=group_by,
        totals={name: sum((getattr(group, name) for group in groups), Figure()) for name in FIGURES},
        groups=groups,
        hours_covered=sum(period.hours_covered for period in found),
        hours_in_range=int((end - start) / HOUR),
    )


def _periods(
    ledger: FootprintLedger,
    connection_id: str,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    group_by: GroupBy,
) -> list[PeriodRollup]:
    if granularity is not Granularity.HOUR:
        return ledger.periods(connection_id, granularity, start, end, group_by)
    by_hour = _by_hour(ledger.rollups(connection_id, start, end))
    # An hour's period is its hourly roll-ups; an hour with none holds nothing, whether calculated or not.
    return [
        PeriodRollup(
            connection_id=connection_id,
            granularity=Granularity.HOUR,
            start=hour,
            hours_covered=1,
            hours_in_period=1,
            methodology_versions=tuple(sorted({r.methodology_version for r in rollups})),
            groups=hour_groups(rollups),
        )
        for hour, rollups in by_hour.items()
    ]


def check_aligned(start: datetime, end: datetime, granularity: Granularity) -> None:
    for name, value in (("start", start), ("end", end)):
        if period_start(value, granularity) != value:
            unit = {Granularity.HOUR: "a whole hour", Granularity.DAY: "midnight UTC"}.get(
                granularity, "the first of a month, midnight UTC"
            )
            raise FootprintWindowError(f"{granularity} granularity: {name} must be {unit}, not {value.isoformat()}")


__all__ = [
    "FIGURES",
    "Breakdown",
    "Claim",
    "Figure",
    "Footprint",
    "FootprintWindowError",
    "Granularity",
    "GroupBy",
    "GroupFigures",
    "GroupTotal",
    "PeriodLedger",
    "PeriodRollup",
    "SeriesPoint",
    "breakdown",
    "check_aligned",
    "cover",
    "day_from_hours",
    "footprint",
    "hour_groups",
    "hours_in",
    "month_from_days",
    "period_end",
    "period_start",
    "refresh_periods",
]
