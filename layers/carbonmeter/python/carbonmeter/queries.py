"""What the stored hours of one connection say: the use cases behind ``status`` and ``report``.

The CLI prints them today and the HTTP API will serve them: both are presenters over these functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from carbonmeter import periods, report, series, top_resources
from carbonmeter.aws import ClientFactory
from carbonmeter.connections import monitoring_cost
from carbonmeter.models import ConnectionSchedule, HourStatus, hours_between
from carbonmeter.monitoring import MonitoringCost
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, StatusStore
from carbonmeter.windows import check_window


@dataclass(frozen=True)
class HourStatuses:
    """Every hour of a window with its status (None: never collected)."""

    hours: list[tuple[datetime, HourStatus | None]]

    @property
    def complete(self) -> int:
        return sum(1 for _, status in self.hours if status is not None and status.complete)


@dataclass(frozen=True)
class ConnectionReport:
    """A connection's stored emissions over a window, per region and service, with their ranges."""

    report: report.Report
    hours_with_emissions: int
    # What its collections cost the customer's account a month in GetMetricData, at its window.
    monitoring: MonitoringCost | None = None


def hour_statuses(
    clients: ClientFactory, settings: Settings, connection_id: str, start: datetime, end: datetime, now: datetime
) -> HourStatuses:
    """The status of each hour in [start, end) of a known connection."""
    _check(clients, settings, connection_id, start, end, now)
    found = StatusStore(clients, settings.usage_table).between(connection_id, start, end)
    return HourStatuses([(hour, found.get(hour)) for hour in hours_between(start, end)])


def connection_report(
    clients: ClientFactory, settings: Settings, connection_id: str, start: datetime, end: datetime, now: datetime
) -> ConnectionReport:
    """The stored roll-ups of a known connection over [start, end), added up per region and service, and its
    monthly monitoring cost."""
    schedule = _check(clients, settings, connection_id, start, end, now)
    rollups = EmissionStore(clients, settings.emissions_table).rollups(connection_id, start, end)
    cost = monitoring_cost(schedule, settings.collection_window_hours)
    return ConnectionReport(report.from_rollups(rollups, start, end), len({r.hour for r in rollups}), cost)


def _check(
    clients: ClientFactory, settings: Settings, connection_id: str, start: datetime, end: datetime, now: datetime
) -> ConnectionSchedule:
    check_window(start, end, now)
    # An unknown id is a mistake to say so, not an empty answer. Read without its role and ExternalId: the readers
    # of figures (the HTTP API's function among them) never need them.
    return ConnectionStore(clients, settings.connections_table).schedule(connection_id)


# The same check for the insights' use cases (carbonmeter/insights/): a window that is over, a known connection.
check_stored_window = _check


def connection_footprint(
    clients: ClientFactory,
    settings: Settings,
    connection_id: str,
    window: tuple[datetime, datetime],
    granularity: periods.Granularity,
    group_by: periods.GroupBy,
    now: datetime,
) -> periods.Footprint:
    """A known connection's footprint over ``window``, by period and group: from its stored roll-ups, or by
    resource from its hours' records (one query per hour)."""
    start, end = window
    _check(clients, settings, connection_id, start, end, now)
    store = EmissionStore(clients, settings.emissions_table)
    return series.footprint(store, connection_id, start, end, granularity, group_by)


def connection_breakdown(
    clients: ClientFactory,
    settings: Settings,
    connection_id: str,
    window: tuple[datetime, datetime],
    group_by: periods.GroupBy,
    now: datetime,
) -> periods.Breakdown:
    """A known connection's groups over the whole window, from its largest stored roll-ups that fit."""
    start, end = window
    _check(clients, settings, connection_id, start, end, now)
    return periods.breakdown(EmissionStore(clients, settings.emissions_table), connection_id, start, end, group_by)


def connection_rows(
    clients: ClientFactory,
    settings: Settings,
    connection_id: str,
    window: tuple[datetime, datetime],
    granularity: periods.Granularity,
    group_by: periods.GroupBy,
    now: datetime,
) -> Iterator[series.FootprintRow]:
    """The same footprint's rows, read lazily (``export``); the window and the id are checked before any row."""
    start, end = window
    _check(clients, settings, connection_id, start, end, now)
    store = EmissionStore(clients, settings.emissions_table)
    return series.rows(store, connection_id, start, end, granularity, group_by)


def connection_top(
    clients: ClientFactory,
    settings: Settings,
    connection_id: str,
    window: tuple[datetime, datetime],
    count: int,
    now: datetime,
) -> top_resources.TopResources:
    """A known connection's ``count`` largest resources over ``window``, from its stored tops (days, and months
    where whole): a handful of queries whatever the window's length."""
    start, end = window
    top_resources.check_count(count)
    _check(clients, settings, connection_id, start, end, now)
    store = EmissionStore(clients, settings.emissions_table)
    return top_resources.top_resources(store, connection_id, start, end, count)
