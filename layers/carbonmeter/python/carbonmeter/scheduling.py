"""Which connection-hours to collect, and putting them on the collect queue.

Every hour the scheduler queues, per enabled connection, each hour of the look-back
window that has never been collected, or whose last collection missed something and
is old enough that its own retries are over. An outage of the pipeline or of a
customer's role therefore leaves no gap once it ends, within the look-back.

The hourly run itself only lists the enabled connections and sends them in pages (``run_hourly``); each page is
planned by a step of its own (``run_page``), so no invocation's work grows with the number of connections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from carbonmeter.aws import ClientFactory
from carbonmeter.collection_windows import by_window, settled_windows_end
from carbonmeter.models import (
    HOUR,
    BackfillChunk,
    CalculateJob,
    CollectJob,
    ConnectionId,
    ConnectionSchedule,
    HourStatus,
    SchedulePage,
    UtcHour,
    hour_key,
    hours_between,
    inventory_covers,
)
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore, UnknownConnectionError

SQS_BATCH_SIZE = 10
# CloudWatch keeps hourly datapoints for 455 days; older hours cannot be collected.
CLOUDWATCH_HOURLY_RETENTION = timedelta(days=455)
MAX_CONNECTIONS_PER_BACKFILL = 100
# How far a scheduled event's time may run ahead of the function's clock (EventBridge stamps the event
# when the rule fires, moments before the invocation): more means an edited or forged event.
EVENT_CLOCK_TOLERANCE = timedelta(minutes=5)

StatusLookup = Callable[[ConnectionSchedule, datetime, datetime], Mapping[datetime, HourStatus]]


class BackfillRequest(BaseModel):
    """A manual event: collect these connections for every hour in [start, end)."""

    model_config = ConfigDict(extra="forbid")

    connection_ids: list[ConnectionId] = Field(min_length=1, max_length=MAX_CONNECTIONS_PER_BACKFILL)
    start: UtcHour
    end: UtcHour

    @model_validator(mode="after")
    def _window(self) -> BackfillRequest:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class SchedulingError(ValueError):
    """A request the scheduler refuses, with the reason."""


def parse_backfill(event: Mapping[str, object]) -> BackfillRequest:
    """A manual event as a backfill request, or a SchedulingError naming every problem."""
    try:
        return BackfillRequest.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        raise SchedulingError(f"invalid backfill event: {problems}") from None


class UnsettledHourError(SchedulingError):
    """A job for an hour that has not ended, or whose CloudWatch data has not settled yet."""


def settled_end(now: datetime, settings: Settings) -> datetime:
    """The end of the latest hour that may be collected at ``now``: it ended ``settle_minutes`` ago or more."""
    settled = now.astimezone(UTC) - timedelta(minutes=settings.settle_minutes)
    return settled.replace(minute=0, second=0, microsecond=0)


def check_settled(what: str, end: datetime, now: datetime, settings: Settings) -> None:
    """Refuse work on hours ending after ``settled_end(now)``: their usage would be stored as complete too early."""
    limit = settled_end(now, settings)
    if end > limit:
        raise UnsettledHourError(
            f"{what} ends at {hour_key(end)}, in the future or within the settling delay: the latest hour that "
            f"may be collected ends at {hour_key(limit)} (an hour settles {settings.settle_minutes} minutes after "
            "it ends); refused, nothing written"
        )


def check_collectable(what: str, start: datetime, end: datetime, now: datetime, settings: Settings) -> None:
    """Refuse a window that has not settled yet, or that starts before CloudWatch's hourly retention."""
    check_settled(what, end, now, settings)
    if start < settled_end(now, settings) - CLOUDWATCH_HOURLY_RETENTION:
        raise SchedulingError(f"{what} starts before CloudWatch's hourly retention (455 days): refused")


def hourly_reference(event_time: datetime, now: datetime) -> datetime:
    """The time the hourly run collects for: the function's clock; the event's own time is only checked."""
    if event_time.astimezone(UTC) > now + EVENT_CLOCK_TOLERANCE:
        raise SchedulingError(
            f"the scheduled event's time {event_time.isoformat()} is ahead of the clock ({now.isoformat()}): "
            "an edited or replayed event; nothing queued"
        )
    return now


@dataclass(frozen=True)
class EnqueueResult:
    jobs: int
    connections: int
    first_hour: datetime | None
    last_hour: datetime | None
    # Of ``jobs``, those that ended before CarbonMeter first looked at the account (backfills only).
    hours_before_first_look: int = 0


def window_hours(connection: ConnectionSchedule, settings: Settings) -> int:
    """Hours per collection of ``connection``: its own window, else the deployment's."""
    return connection.window_hours or settings.collection_window_hours


def window_jobs(connection_id: str, hours: Iterable[datetime], window: int) -> list[CollectJob]:
    """One job per window holding any of ``hours``: from the window's first such hour to its last.

    Each job is read with one GetMetricData query per metric whatever its length, so an hour between two due ones
    (complete already) is read again for nothing more.
    """
    return [
        CollectJob(
            connection_id=connection_id, hour=members[0], hour_count=len(hours_between(members[0], members[-1] + HOUR))
        )
        for members in by_window(hours, window).values()
    ]


def due_hours(
    connection: ConnectionSchedule, statuses: Mapping[datetime, HourStatus], now: datetime, settings: Settings
) -> list[datetime]:
    """The hours of ``connection`` the hourly run should queue."""
    retry_before = now - timedelta(hours=settings.retry_incomplete_after_hours)
    return [
        hour
        for hour in lookback_hours(connection, now, settings)
        if hour not in statuses or (not statuses[hour].complete and statuses[hour].updated_at <= retry_before)
    ]


def lookback_hours(connection: ConnectionSchedule, now: datetime, settings: Settings) -> list[datetime]:
    """The hours the hourly run looks after for ``connection``: its look-back window's settled hours since the
    hour it was registered in, up to the end of its latest collection window that has settled whole."""
    latest = settled_windows_end(settled_end(now, settings), window_hours(connection, settings)) - HOUR
    earliest = max(latest - (settings.lookback_hours - 1) * HOUR, _first_hour(connection, latest))
    return hours_between(earliest, latest + HOUR)


def missing_hours(
    connection: ConnectionSchedule, statuses: Mapping[datetime, HourStatus], now: datetime, settings: Settings
) -> list[datetime]:
    """The hours of the look-back window not collected completely (yet): what a connection's health shows."""
    return [
        hour
        for hour in lookback_hours(connection, now, settings)
        if hour not in statuses or not statuses[hour].complete
    ]


def _first_hour(connection: ConnectionSchedule, latest: datetime) -> datetime:
    # A connection is collected from the hour it was registered in; older registrations predate the field.
    if connection.created_at is None:
        return latest
    return connection.created_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def due_calculations(
    statuses: Mapping[datetime, HourStatus], collecting: Iterable[datetime], now: datetime, settings: Settings
) -> list[datetime]:
    """Hours whose usage is stored but whose emissions are not, once the calculate job's own retries are over.

    A calculate job that failed for good sits in the dead-letter queue; without this, the hour would be
    lost when the queue's retention ends. Hours about to be collected again get their calculation then.
    """
    retry_before = now - timedelta(hours=settings.retry_incomplete_after_hours)
    skip = set(collecting)
    return sorted(
        hour
        for hour, status in statuses.items()
        if hour not in skip and not status.calculated and status.updated_at <= retry_before
    )


@dataclass(frozen=True)
class HourlyPlan:
    collect: list[CollectJob]
    calculate: list[CalculateJob]


def lookback_window(now: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """The hours the hourly run looks at: the last ``lookback_hours`` settled hours, as [start, end)."""
    end = settled_end(now, settings)
    return end - settings.lookback_hours * HOUR, end


def _statuses(
    clients: ClientFactory, connections: Sequence[ConnectionSchedule], now: datetime, settings: Settings
) -> dict[str, Mapping[datetime, HourStatus]]:
    """Each connection's statuses of the look-back, read ``scheduler_workers`` queries at a time."""
    start, end = lookback_window(now, settings)
    # boto3's resources are not thread-safe (its clients are): each worker thread reads through its own.
    local = threading.local()

    def read(connection: ConnectionSchedule) -> Mapping[datetime, HourStatus]:
        if not hasattr(local, "store"):
            local.store = StatusStore(clients, settings.usage_table)
        found: Mapping[datetime, HourStatus] = local.store.between(connection.connection_id, start, end)
        return found

    with ThreadPoolExecutor(max_workers=settings.scheduler_workers) as pool:
        found = pool.map(read, connections)
        return {connection.connection_id: statuses for connection, statuses in zip(connections, found, strict=True)}


def plan_hourly(
    connections: Iterable[ConnectionSchedule], statuses: StatusLookup, now: datetime, settings: Settings
) -> HourlyPlan:
    """The jobs of the hourly run: every due hour of every enabled connection, and every lost calculation."""
    start, end = lookback_window(now, settings)
    plan = HourlyPlan(collect=[], calculate=[])
    for connection in connections:
        if not connection.enabled:
            continue
        found = statuses(connection, start, end)
        hours = due_hours(connection, found, now, settings)
        plan.collect.extend(window_jobs(connection.connection_id, hours, window_hours(connection, settings)))
        plan.calculate.extend(
            CalculateJob(connection_id=connection.connection_id, hour=hour)
            for hour in due_calculations(found, hours, now, settings)
        )
    return plan


def scheduled_jobs(
    connections: Iterable[ConnectionSchedule], statuses: StatusLookup, now: datetime, settings: Settings
) -> list[CollectJob]:
    """The collect jobs of the hourly run."""
    return plan_hourly(connections, statuses, now, settings).collect


@dataclass(frozen=True)
class HourlyRun:
    """What the hourly run sent: its connections in pages, each planned by a page step (``run_page``)."""

    pages: int
    connections: int
    stale_connections: list[str]


# A page's claim: the look-back it plans and its connections (a retried run of the same hour sends the same pages).
PAGE_CLAIM_KEY = "[lookback_end, connections[*].connection_id]"


def run_hourly(clients: ClientFactory, settings: Settings, event_time: datetime, now: datetime) -> HourlyRun:
    """The hourly run: list the enabled connections and send them in pages, each planned by its own page step.

    The run's own work is a Scan and a send per ten pages, so it stays short at any number of connections; what
    grows with them (a status query per connection, the jobs) is spread over the pages.
    """
    reference = hourly_reference(event_time, now)
    connections = list(ConnectionStore(clients, settings.connections_table).schedules(enabled_only=True))
    pages = schedule_pages(connections, reference, settings)
    enqueue(clients, _page_queue(settings), pages, workers=settings.scheduler_workers)
    return HourlyRun(
        pages=len(pages),
        connections=len(connections),
        stale_connections=stale_connections(connections, reference, settings),
    )


def schedule_pages(
    connections: Sequence[ConnectionSchedule], reference: datetime, settings: Settings
) -> list[SchedulePage]:
    """``connections`` in pages of ``scheduler_page_connections``, each to be planned for ``reference``."""
    size = settings.scheduler_page_connections
    _, lookback_end = lookback_window(reference, settings)
    return [
        SchedulePage(
            reference=reference,
            lookback_end=lookback_end,
            page=index,
            connections=tuple(connections[start : start + size]),
        )
        for index, start in enumerate(range(0, len(connections), size))
    ]


@dataclass(frozen=True)
class PageRun:
    """What one page step queued: its connections' due hours, and their lost calculations."""

    collect: EnqueueResult
    calculations_requeued: int


def run_page(clients: ClientFactory, settings: Settings, page: SchedulePage, now: datetime) -> PageRun:
    """Queue what is due for collection, and every lost calculation, of one page of the hourly run."""
    reference = hourly_reference(page.reference, now)
    collect_queue, calculate_queue = _queues(settings)
    found = _statuses(clients, page.connections, reference, settings)

    def lookup(connection: ConnectionSchedule, start: datetime, end: datetime) -> Mapping[datetime, HourStatus]:
        return found[connection.connection_id]

    plan = plan_hourly(page.connections, lookup, reference, settings)
    enqueue(clients, collect_queue, plan.collect, workers=settings.scheduler_workers)
    enqueue(clients, calculate_queue, plan.calculate, workers=settings.scheduler_workers)
    return PageRun(collect=summarise(plan.collect), calculations_requeued=len(plan.calculate))


def run_backfill(clients: ClientFactory, settings: Settings, request: BackfillRequest, now: datetime) -> EnqueueResult:
    """A manual backfill: queue every hour of the request, as jobs or chunks."""
    collect_queue, _ = _queues(settings)
    check_collectable("the backfill", request.start, request.end, now, settings)
    connections = _known_connections(ConnectionStore(clients, settings.connections_table), request.connection_ids)
    messages = _backfill_messages(connections, request, settings)
    enqueue(clients, collect_queue, messages)
    # The insights' figures of the same window: its days of spend, and AWS's figures of its published months.
    from carbonmeter.insights.schedule import backfill_jobs  # imports this module: imported when needed

    connection_ids = sorted({message.connection_id for message in messages})
    enqueue(clients, collect_queue, backfill_jobs(connection_ids, request.start, request.end, now))
    return replace(summarise(messages), hours_before_first_look=hours_before_first_look(connections, request, now))


def hours_before_first_look(connections: Iterable[ConnectionSchedule], request: BackfillRequest, now: datetime) -> int:
    """The connection-hours of ``request`` that ended before CarbonMeter first looked at their account.

    A resource that had ended by then is missing from them (``inventory_covers``); a connection never collected
    is first looked at by this backfill.
    """
    hours = hours_between(request.start, request.end)
    return sum(
        not inventory_covers(connection.inventory_since or now, hour) for connection in connections for hour in hours
    )


def _page_queue(settings: Settings) -> str:
    if not settings.page_queue_url:
        raise SchedulingError("CARBONMETER_PAGE_QUEUE_URL must be set")
    return settings.page_queue_url


def _queues(settings: Settings) -> tuple[str, str]:
    if not settings.collect_queue_url or not settings.calculate_queue_url:
        raise SchedulingError("CARBONMETER_COLLECT_QUEUE_URL and CARBONMETER_CALCULATE_QUEUE_URL must be set")
    return settings.collect_queue_url, settings.calculate_queue_url


def stale_connections(connections: Iterable[ConnectionSchedule], now: datetime, settings: Settings) -> list[str]:
    """Enabled connections with no successful hour for ``stale_after_hours`` (registered at least that long ago)."""
    return [c.connection_id for c in connections if c.enabled and _stale(c, now, settings)]


def _stale(connection: ConnectionSchedule, now: datetime, settings: Settings) -> bool:
    # A windowed connection succeeds once a window: it is stale when a whole window has gone by on top of that.
    window = window_hours(connection, settings)
    limit = now - timedelta(hours=settings.stale_after_hours + (window if window > 1 else 0))
    return (connection.last_success_at or connection.created_at or limit) <= limit


def backfill_messages(
    store: ConnectionStore, request: BackfillRequest, now: datetime, settings: Settings
) -> list[CollectJob | BackfillChunk]:
    """Jobs for a short backfill; for a long one, chunks (``backfill_chunk_hours`` each) the collector expands."""
    check_collectable("the backfill", request.start, request.end, now, settings)
    return _backfill_messages(_known_connections(store, request.connection_ids), request, settings)


def _backfill_messages(
    connections: Sequence[ConnectionSchedule], request: BackfillRequest, settings: Settings
) -> list[CollectJob | BackfillChunk]:
    hours = hours_between(request.start, request.end)
    if len(hours) <= settings.backfill_chunk_hours:
        return [job for c in connections for job in window_jobs(c.connection_id, hours, window_hours(c, settings))]
    return [
        BackfillChunk(
            connection_id=c.connection_id, start=chunk[0], end=chunk[-1] + HOUR, window_hours=window_hours(c, settings)
        )
        for c in connections
        for chunk in _chunks(hours, window_hours(c, settings), settings)
    ]


def chunk_limit(window: int, settings: Settings) -> int:
    """The most hours a backfill chunk of a connection of ``window`` holds: never less than one window."""
    return max(settings.backfill_chunk_hours, window)


def _chunks(hours: Sequence[datetime], window: int, settings: Settings) -> list[list[datetime]]:
    # Cut between windows, so that no window is split across two chunks (and collected twice).
    size = chunk_limit(window, settings)
    chunks: list[list[datetime]] = []
    for members in by_window(hours, window).values():
        if not chunks or len(chunks[-1]) + len(members) > size:
            chunks.append([])
        chunks[-1].extend(members)
    return chunks


def _known_connections(store: ConnectionStore, connection_ids: Sequence[str]) -> list[ConnectionSchedule]:
    found, missing = [], []
    for connection_id in dict.fromkeys(connection_ids):
        try:
            found.append(store.schedule(connection_id))
        except UnknownConnectionError:
            missing.append(connection_id)
    if missing:
        raise SchedulingError(f"unknown connection ids: {', '.join(missing)}")
    disabled = [c.connection_id for c in found if not c.enabled]
    if disabled:
        raise SchedulingError(f"disabled connections: {', '.join(disabled)}")
    return found


def enqueue(clients: ClientFactory, queue_url: str, jobs: Sequence[BaseModel], workers: int = 1) -> int:
    """Send ``jobs`` with SendMessageBatch, ten at a time (``workers`` batches at once); raise if any message was
    refused, once every batch has been tried."""
    sqs = clients.client("sqs")
    batches = [jobs[start : start + SQS_BATCH_SIZE] for start in range(0, len(jobs), SQS_BATCH_SIZE)]

    def send(batch: Sequence[BaseModel]) -> list[str]:
        entries = [{"Id": str(i), "MessageBody": job.model_dump_json()} for i, job in enumerate(batch)]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        return [f"{f.get('Code')}: {f.get('Message', '')}" for f in failed]

    if workers <= 1 or len(batches) <= 1:
        refused = [reason for batch in batches for reason in send(batch)]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            refused = [reason for reasons in pool.map(send, batches) for reason in reasons]
    if refused:
        raise RuntimeError(f"{len(refused)} of {len(jobs)} messages were not queued: {'; '.join(refused[:10])}")
    return len(jobs)


def summarise(messages: Sequence[CollectJob | BackfillChunk]) -> EnqueueResult:
    """How many connection-hours ``messages`` stand for, and their span."""
    hours = sorted({hour for message in messages for hour in _hours(message)})
    return EnqueueResult(
        jobs=sum(len(_hours(message)) for message in messages),
        connections=len({message.connection_id for message in messages}),
        first_hour=hours[0] if hours else None,
        last_hour=hours[-1] + HOUR if hours else None,
    )


def _hours(message: CollectJob | BackfillChunk) -> list[datetime]:
    return message.hours()
