"""Trends: a connection's totals day after day (or month after month), and the change from one to the next.

Read from the stored day or month roll-ups (one query whatever the window). A period the window covers only in
part, or whose hours are not all calculated yet, holds fewer hours than a whole one: its total is not comparable
with a whole period's, so each period also gives its CO2e per calculated hour, and the change between periods is
the change of that rate. The hour counts say how much of each period is behind its figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from carbonmeter import periods, queries
from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR
from carbonmeter.periods import Figure, Granularity, GroupBy, PeriodRollup
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore


class TrendPeriod(BaseModel):
    """One period's totals (every service), how many of its hours they cover, and the change from the last."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    hours_covered: int
    hours_in_period: int
    energy_kwh: Figure
    total_kgco2e: Figure
    # Central CO2e (operational + embodied) per calculated hour; None when no hour is calculated.
    kgco2e_per_hour: float | None
    # The relative change of ``kgco2e_per_hour`` from the period before (0.1: 10 % more); None for the first,
    # or when either rate is missing or the earlier one is zero.
    change_per_hour: float | None


class Trend(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection_id: str
    granularity: Granularity
    start: datetime
    end: datetime
    periods: tuple[TrendPeriod, ...]


class TrendLedger(Protocol):
    def iter_periods(
        self, connection_id: str, granularity: Granularity, start: datetime, end: datetime
    ) -> Iterator[PeriodRollup]: ...


TREND_GRANULARITIES = (Granularity.DAY, Granularity.MONTH)


def trend(ledger: TrendLedger, connection_id: str, start: datetime, end: datetime, granularity: Granularity) -> Trend:
    """Every day or month that [start, end) touches, in order, from its stored roll-up."""
    if granularity not in TREND_GRANULARITIES:
        raise ValueError(f"a trend is by day or by month, not by {granularity}")
    first = periods.period_start(start, granularity)
    last_end = periods.period_end(periods.period_start(end - HOUR, granularity), granularity)
    found: list[TrendPeriod] = []
    for period in ledger.iter_periods(connection_id, granularity, first, last_end):
        found.append(_trend_period(period, found[-1] if found else None))
    return Trend(connection_id=connection_id, granularity=granularity, start=first, end=last_end, periods=tuple(found))


def connection_trend(
    clients: ClientFactory,
    settings: Settings,
    connection_id: str,
    window: tuple[datetime, datetime],
    granularity: Granularity,
    now: datetime,
) -> Trend:
    """A known connection's trend over the days or months ``window`` touches (what the HTTP API will serve)."""
    start, end = window
    queries.check_stored_window(clients, settings, connection_id, start, end, now)
    return trend(EmissionStore(clients, settings.emissions_table), connection_id, start, end, granularity)


def _trend_period(period: PeriodRollup, previous: TrendPeriod | None) -> TrendPeriod:
    # Each service once: the service groups add up to the connection's whole footprint.
    groups = period.of(GroupBy.SERVICE)
    energy = sum((group.energy_kwh for group in groups), Figure())
    total = sum((group.operational_kgco2e + group.embodied_kgco2e for group in groups), Figure())
    rate = total.central / period.hours_covered if period.hours_covered else None
    return TrendPeriod(
        start=period.start,
        hours_covered=period.hours_covered,
        hours_in_period=period.hours_in_period,
        energy_kwh=energy,
        total_kgco2e=total,
        kgco2e_per_hour=rate,
        change_per_hour=_change(previous.kgco2e_per_hour if previous else None, rate),
    )


def _change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return (after - before) / before


__all__ = ["TREND_GRANULARITIES", "Trend", "TrendPeriod", "connection_trend", "trend"]
