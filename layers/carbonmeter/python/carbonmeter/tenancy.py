"""What a tenant's user may read: the HTTP API's use cases, each behind the one visibility check.

A connection belongs to at most one tenant (``Connection.tenant``, named at registration); a user reads the
tenants of their ``cognito:groups`` claim (a ``Viewer``). A connection of another tenant, or of none, is answered
exactly as an id never registered: the same ``UnknownConnectionError``, with the same message, so an answer
never tells whether an id exists elsewhere. Every per-connection use case below starts with ``visible_connection``
and then calls the library's own use case (``queries``, ``insights``), the one the CLI presents: the figures are
the CLI's. The operator's CLI reads every connection, tenant or not, through those use cases directly.

The reads are bounded (``ReadLimits``) so that an answer fits what one API call can carry: API Gateway's 30
seconds and Lambda's 6 MB response. Longer reads are the CLI's (``carbonmeter report``, ``export``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from carbonmeter import periods, queries, top_resources
from carbonmeter.aws import ClientFactory
from carbonmeter.connections import monitoring_cost
from carbonmeter.insights import costs, recommendations, reconciliation
from carbonmeter.insights.anomalies.records import Anomaly
from carbonmeter.insights.anomalies.watch import connection_anomalies
from carbonmeter.insights.export import ExportFormat, export_rows, lines
from carbonmeter.models import (
    HOUR,
    SCHEDULE_ATTRIBUTES,
    ConnectionId,
    ConnectionSchedule,
    ConnectionView,
    HourStatus,
    Service,
    TenantName,
    hour_key,
    hour_state,
)
from carbonmeter.periods import Breakdown, Footprint, Granularity, GroupBy
from carbonmeter.scheduling import lookback_hours, missing_hours
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore, UnknownConnectionError

_TENANT_NAMES: TypeAdapter[str] = TypeAdapter(TenantName)
_CONNECTION_IDS: TypeAdapter[str] = TypeAdapter(ConnectionId)
# API Gateway's JWT authorizer passes an array claim as one string, "[acme beta]"; a test event may pass a list.
_GROUP_SEPARATORS = re.compile(r"[\s,]+")


class Viewer(BaseModel):
    """Who asks: the tenants whose connections they may read (the groups of their token that name one)."""

    model_config = ConfigDict(frozen=True)

    tenants: frozenset[TenantName] = frozenset()

    @classmethod
    def from_groups(cls, groups: str | Iterable[str] | None) -> Viewer:
        """The viewer of a ``cognito:groups`` claim as the authorizer passes it; names that are no tenant's
        (Cognito allows more than a tenant may be named) give nothing."""
        if groups is None:
            names: Iterable[str] = ()
        elif isinstance(groups, str):
            names = _GROUP_SEPARATORS.split(groups.strip().removeprefix("[").removesuffix("]"))
        else:
            names = groups
        return cls(tenants=frozenset(name for name in names if _is_tenant_name(name)))

    def sees(self, connection: ConnectionView) -> bool:
        return connection.tenant is not None and connection.tenant in self.tenants


def _is_tenant_name(name: str) -> bool:
    return _valid(_TENANT_NAMES, name)


def _is_connection_id(value: str) -> bool:
    return _valid(_CONNECTION_IDS, value)


def _valid(names: TypeAdapter[str], value: str) -> bool:
    try:
        names.validate_python(value)
    except ValidationError:
        return False
    return True


class ReadLimitError(ValueError):
    """A read larger than one API call may make; the message names the parameter and where to read it instead."""


class ExportTooLargeError(ValueError):
    """An export whose file would not fit in one API response: refused whole, never cut short."""


class ReadLimits(BaseModel):
    """The most one API call reads: each bound keeps an answer within API Gateway's 30 s and Lambda's 6 MB."""

    model_config = ConfigDict(frozen=True)

    # Hour by hour, a month: 744 points per group. A year is read by day or by month.
    hour_granularity_hours: int = 31 * 24
    # By resource, every hour of the window is one query (docs/insights.md): a month is about 744 queries.
    resource_hours: int = 31 * 24
    # The status of every hour of the window: two months.
    status_hours: int = 62 * 24
    # An answer's body (an export's file, a footprint's JSON) as it travels inside Lambda's JSON response
    # (escaped): under its 6 MB with room for the headers.
    answer_bytes: int = 5_000_000


LIMITS = ReadLimits()


class Monitoring(BaseModel):
    """What collecting the connection costs a month in CloudWatch GetMetricData, and who pays it (the customer's
    account, whose role makes the calls); ``usd_per_month`` is null until its first complete collection."""

    model_config = ConfigDict(frozen=True)

    window_hours: int
    metrics_per_collection: int | None
    usd_per_month: float | None
    billed_to: str


class ConnectionStatus(BaseModel):
    """A connection as its tenant's users see it, with its collection's health; never its role or ExternalId.

    ``hours_missing``: the hours of the scheduler's look-back window since the connection was registered that
    are not collected completely (yet): the hours the hourly run is catching up on.
    """

    model_config = ConfigDict(frozen=True)

    connection_id: str
    tenant: str
    regions: tuple[str, ...]
    services: tuple[Service, ...]
    enabled: bool
    last_collected_hour: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    hours_missing: int
    hours_in_lookback: int
    monitoring: Monitoring


class ConnectionList(BaseModel):
    """The connections a viewer may read, by id."""

    model_config = ConfigDict(frozen=True)

    connections: tuple[ConnectionStatus, ...]


class AnomalyList(BaseModel):
    """A connection's anomalies overlapping a window, as ``carbonmeter anomalies --format json`` lists them."""

    model_config = ConfigDict(frozen=True)

    anomalies: tuple[Anomaly, ...]


class HourState(BaseModel):
    """One hour of a connection's status: what its collection got and missed, and whether it was calculated."""

    model_config = ConfigDict(frozen=True)

    hour: datetime
    state: str
    attempts: int = 0
    succeeded: tuple[str, ...] = ()
    failed: dict[str, str] = {}
    skipped: dict[str, str] = {}
    calculated: bool = False
    calculation_error: str | None = None
    inventory_incomplete: bool = False


class StatusWindow(BaseModel):
    """Every hour of [start, end) with its state: ``complete``, ``incomplete`` or ``not collected``."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    hours_complete: int
    hours_in_range: int
    hours: tuple[HourState, ...]


def visible_connection(
    clients: ClientFactory, settings: Settings, viewer: Viewer, connection_id: str
) -> ConnectionView:
    """The connection ``connection_id`` if ``viewer`` may read it; else the very error an unknown id raises."""
    connection = None
    # An id that no connection can have is unknown too (and never sent to DynamoDB, whose keys are bounded).
    if _is_connection_id(connection_id):
        with contextlib.suppress(UnknownConnectionError):
            connection = ConnectionStore(clients, settings.connections_table).view(connection_id)
    if connection is None or not viewer.sees(connection):
        # Built here, not re-raised: the message is the same whether the id is unknown or another tenant's.
        raise UnknownConnectionError(f"no connection named {connection_id!r}")
    return connection


def visible_connections(clients: ClientFactory, settings: Settings, viewer: Viewer, now: datetime) -> ConnectionList:
    """The connections of the viewer's tenants, by id, each with its health."""
    if not viewer.tenants:
        return ConnectionList(connections=())
    found = sorted(
        (view for view in ConnectionStore(clients, settings.connections_table).views() if viewer.sees(view)),
        key=lambda view: view.connection_id,
    )
    statuses = StatusStore(clients, settings.usage_table)
    return ConnectionList(connections=tuple(_status(view, statuses, now, settings) for view in found))


def connection_status(
    clients: ClientFactory, settings: Settings, viewer: Viewer, connection_id: str, now: datetime
) -> ConnectionStatus:
    view = visible_connection(clients, settings, viewer, connection_id)
    return _status(view, StatusStore(clients, settings.usage_table), now, settings)


def _status(view: ConnectionView, statuses: StatusStore, now: datetime, settings: Settings) -> ConnectionStatus:
    schedule = ConnectionSchedule.model_validate(view.model_dump(include=set(SCHEDULE_ATTRIBUTES)))
    window = lookback_hours(schedule, now, settings)
    found = statuses.between(view.connection_id, window[0], window[-1] + HOUR) if window else {}
    assert view.tenant is not None  # visible, so it has one
    return ConnectionStatus(
        connection_id=view.connection_id,
        tenant=view.tenant,
        regions=view.regions,
        services=view.services,
        enabled=view.enabled,
        last_collected_hour=datetime.fromisoformat(view.last_success_hour) if view.last_success_hour else None,
        last_error=view.last_error,
        last_error_at=view.last_error_at,
        hours_missing=len(missing_hours(schedule, found, now, settings)),
        hours_in_lookback=len(window),
        monitoring=Monitoring.model_validate(monitoring_cost(view, settings.collection_window_hours).document()),
    )


def footprint(
    clients: ClientFactory,
    settings: Settings,
    viewer: Viewer,
    connection_id: str,
    window: tuple[datetime, datetime],
    granularity: Granularity,
    group_by: GroupBy,
    now: datetime,
) -> Footprint:
    """``carbonmeter report --granularity G --group-by B`` of a visible connection."""
    visible_connection(clients, settings, viewer, connection_id)
    _check_footprint_window(window, granularity, group_by)
    return queries.connection_footprint(clients, settings, connection_id, window, granularity, group_by, now)


def breakdown(
    clients: ClientFactory,
    settings: Settings,
    viewer: Viewer,
    connection_id: str,
    window: tuple[datetime, datetime],
    group_by: GroupBy,
    now: datetime,
) -> Breakdown:
    """``carbonmeter report --breakdown B`` of a visible connection: its groups over the whole window."""
    visible_connection(clients, settings, viewer, connection_id)
    if group_by is GroupBy.RESOURCE:
        raise ReadLimitError("group_by: resource is not in the roll-ups; ask service, region or service_region")
    return queries.connection_breakdown(clients, settings, connection_id, window, group_by, now)


def top(
    clients: ClientFactory,
    settings: Settings,
    viewer: Viewer,
    connection_id: str,
    window: tuple[datetime, datetime],
    count: int,
    now: datetime,
) -> top_resources.TopResources:
    """``carbonmeter report --top N`` of a visible connection: a handful of reads whatever the range, so unbounded."""
    visible_connection(clients, settings, viewer, connection_id)
    return queries.connection_top(clients, settings, connection_id, window, count, now)


def _check_footprint_window(window: tuple[datetime, datetime], granularity: Granularity, group_by: GroupBy) -> None:
    hours = _hours(window)
    if granularity is Granularity.HOUR and hours > LIMITS.hour_granularity_hours:
        raise ReadLimitError(
            f"granularity: hour covers at most {LIMITS.hour_granularity_hours} hours ({hours} asked); "
            "ask day or month, or carbonmeter report for longer"
        )
    if group_by is GroupBy.RESOURCE and hours > LIMITS.resource_hours:
        raise ReadLimitError(
            f"group_by: resource covers at most {LIMITS.resource_hours} hours ({hours} asked; each hour is one "
            "read); ask a shorter range, or carbonmeter report for longer"
        )


def _hours(window: tuple[datetime, datetime]) -> int:
    start, end = window
    return max(0, int((end - start) / HOUR))


def hour_states(
    clients: ClientFactory,
    settings: Settings,
    viewer: Viewer,
    connection_id: str,
    window: tuple[datetime, datetime],
    now: datetime,
) -> StatusWindow:
    """``carbonmeter status`` of a visible connection: each hour of the window and what its collection got."""
    visible_connection(clients, settings, viewer, connection_id)
    hours = _hours(window)
    if hours > LIMITS.status_hours:
        raise ReadLimitError(
            f"start: the status covers at most {LIMITS.status_hours} hours ({hours} asked); "
            "ask a shorter range, or carbonmeter status for longer"
        )
    start, end = window
    found = queries.hour_statuses(clients, settings, connection_id, start, end, now)
    states = tuple(_hour_state(hour, status) for hour, status in found.hours)
    return StatusWindow(start=start, end=end, hours_complete=found.complete, hours_in_range=len(states), hours=states)


def _hour_state(hour: datetime, status: HourStatus | None) -> HourState:
    if status is None:
        return HourState(hour=hour, state=hour_state(status))
    return HourState(
        hour=hour,
        state=hour_state(status),
        attempts=status.attempts,
        succeeded=tuple(sorted(status.succeeded)),
        failed=dict(sorted(status.failed.items())),
        skipped=dict(sorted(status.skipped.items())),
        calculated=status.calculated,
        calculation_error=status.calculation_error,
        inventory_incomplete=status.inventory_incomplete,
    )


def cost(
    clients: ClientFactory, settings: Settings, viewer: Viewer, connection_id: str, window: tuple[datetime, datetime]
) -> costs.CostInsight:
    """``carbonmeter costs`` of a visible connection over whole UTC days."""
    visible_connection(clients, settings, viewer, connection_id)
    start, end = (_day(name, value) for name, value in zip(("start", "end"), window, strict=True))
    return costs.cost_insight(clients, settings, connection_id, start, end)


def _day(name: str, value: datetime) -> date:
    value = value.astimezone(UTC)
    if value != value.replace(hour=0, minute=0, second=0, microsecond=0):
        raise periods.FootprintWindowError(f"{name}: cost is by whole UTC days, so midnight UTC, not {hour_key(value)}")
    return value.date()


def anomalies(
    clients: ClientFactory, settings: Settings, viewer: Viewer, connection_id: str, window: tuple[datetime, datetime]
) -> AnomalyList:
    """``carbonmeter anomalies`` of a visible connection: those overlapping the window."""
    visible_connection(clients, settings, viewer, connection_id)
    return AnomalyList(anomalies=tuple(connection_anomalies(clients, settings, connection_id, *window)))


def connection_recommendations(
    clients: ClientFactory, settings: Settings, viewer: Viewer, connection_id: str, days: int, now: datetime
) -> recommendations.Recommendations:
    """``carbonmeter recommendations`` of a visible connection, over the days up to the latest complete hour."""
    visible_connection(clients, settings, viewer, connection_id)
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return recommendations.connection_recommendations(clients, settings, connection_id, end, now, days)


def reconcile(
    clients: ClientFactory, settings: Settings, viewer: Viewer, connection_id: str, month: str
) -> reconciliation.Reconciliation:
    """``carbonmeter reconcile`` of a visible connection."""
    visible_connection(clients, settings, viewer, connection_id)
    return reconciliation.reconcile(clients, settings, connection_id, month)


def export_file(
    clients: ClientFactory,
    settings: Settings,
    viewer: Viewer,
    connection_id: str,
    window: tuple[datetime, datetime],
    granularity: Granularity,
    group_by: GroupBy,
    export_format: ExportFormat,
    now: datetime,
) -> str:
    """``carbonmeter export`` of a visible connection, whole: the same lines, refused if they would not fit."""
    visible_connection(clients, settings, viewer, connection_id)
    _check_footprint_window(window, granularity, group_by)
    rows = export_rows(clients, settings, connection_id, window, granularity, group_by, now)
    return _bounded("".join(_within(lines(rows, export_format), LIMITS.answer_bytes)), LIMITS.answer_bytes)


def _within(chunks: Iterator[str], limit: int) -> Iterator[str]:
    """The lines as written, stopping (with the error) as soon as they pass ``limit``: nothing more is read."""
    size = 0
    for chunk in chunks:
        size += len(chunk.encode())
        if size > limit:
            raise _too_large(limit)
        yield chunk


def _bounded(body: str, limit: int) -> str:
    if not fits(body, limit):
        raise _too_large(limit)
    return body


def fits(body: str, limit: int | None = None) -> bool:
    """Whether ``body`` fits in one answer: as it travels inside Lambda's JSON response, where quotes and line ends
    take two characters."""
    return len(json.dumps(body)) <= (LIMITS.answer_bytes if limit is None else limit)


def too_large_message(what: str = "the answer", instead: str = "carbonmeter report") -> str:
    return (
        f"{what} is larger than the API returns ({LIMITS.answer_bytes // 1_000_000} MB): ask a shorter range or a "
        f"coarser granularity, or run {instead}, which has no such bound"
    )


def _too_large(limit: int) -> ExportTooLargeError:
    return ExportTooLargeError(too_large_message("the export", "carbonmeter export"))
