"""The collector's step for one connection-hour (and a backfill chunk's expansion), as its Lambda handler runs it.

Apart from the calculator's step (``calculate_step``) so that the collector imports no emissions or anomaly code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from carbonmeter.aws import ApiCallCounter, ClientFactory, RoleAssumptionError, assume_role
from carbonmeter.batch import FailedMessage
from carbonmeter.collection import CollectionResult, all_failed, collect
from carbonmeter.errors import describe_error
from carbonmeter.inventory import Inventory
from carbonmeter.models import (
    HOUR,
    BackfillChunk,
    CalculateJob,
    CollectJob,
    Connection,
    HourStatus,
    UsageRecord,
    hour_key,
)
from carbonmeter.scheduling import (
    SchedulingError,
    check_collectable,
    check_settled,
    chunk_limit,
    enqueue,
    window_jobs,
)
from carbonmeter.services import READ_ACTIONS, READ_MEMBERS, READ_RESOURCES
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, InventoryStore, StatusStore, UsageStore

logger = logging.getLogger(__name__)


class IncompleteCollectionError(RuntimeError):
    """Some scopes of the hour failed: what succeeded is stored, and the message is to be retried."""


@dataclass(frozen=True)
class CollectOutcome:
    connection_id: str
    hour: datetime
    records: int
    counter: ApiCallCounter
    status: HourStatus | None = None
    skipped: bool = False


def collect_connection_hour(
    job: CollectJob, clients: ClientFactory, settings: Settings, now: datetime | None = None
) -> CollectOutcome:
    """Collect, store and hand on to the calculator one connection-hour, or the hours of one collection window
    (``job.hour_count``): read together, one GetMetricData query per metric, then stored hour by hour.

    Scopes (a region's share of a service) that succeed are stored even when others fail;
    the hour's status says which failed, the failure is recorded on the connection, and
    ``IncompleteCollectionError`` is raised so the message is retried. An hour that has not
    settled yet (``now`` is the clock's) is refused before anything is read or written.
    """
    connections = ConnectionStore(clients, settings.connections_table)
    connection = connections.get(job.connection_id)
    counter = ApiCallCounter(parent=clients.counter)
    if not connection.enabled:
        return CollectOutcome(job.connection_id, job.hour, records=0, counter=counter, skipped=True)
    now = now or datetime.now(UTC)
    with _failure_recorded(connections, job.connection_id, job.hour):
        check_settled(f"the collect job for {hour_key(job.hour)}", job.hours()[-1] + HOUR, now, settings)
        return _collect(job, connection, connections, clients, settings, counter, now)


@contextmanager
def _failure_recorded(connections: ConnectionStore, connection_id: str, hour: datetime) -> Iterator[None]:
    """Any failure of a job leaves its trace on the connection (``connections list``), then propagates."""
    try:
        yield
    except Exception as error:
        _record_failure(connections, connection_id, _failure_summary(hour, error))
        raise


def _failure_summary(hour: datetime, error: BaseException) -> str:
    if isinstance(error, IncompleteCollectionError):
        return str(error)  # already names the hour and the scopes
    # Our own refusals read as one line for an operator; anything else is named by its type too.
    text = str(error) if isinstance(error, RoleAssumptionError | SchedulingError) else describe_error(error)
    return f"{hour_key(hour)}: {text}"


def _record_failure(connections: ConnectionStore, connection_id: str, summary: str) -> None:
    try:
        connections.record_failure(connection_id, summary)
    except Exception as trace_error:  # the job is retried either way; the log line says why
        logger.warning("could not record the failure on the connection: %s", describe_error(trace_error))


def record_rejected_message(
    failed: FailedMessage, error: BaseException, clients: ClientFactory, settings: Settings
) -> None:
    """A collect message that could not be read leaves its trace on the connection it names, if that exists."""
    if failed.parsed or failed.connection_id is None:
        return  # a message that was read records its own failures (or names no connection)
    summary = f"message {failed.message_id} refused: {describe_error(error)}"
    _record_failure(ConnectionStore(clients, settings.connections_table), failed.connection_id, summary)


def _collect(
    job: CollectJob,
    connection: Connection,
    connections: ConnectionStore,
    clients: ClientFactory,
    settings: Settings,
    counter: ApiCallCounter,
    now: datetime,
) -> CollectOutcome:
    statuses = StatusStore(clients, settings.usage_table)
    inventories = InventoryStore(clients, settings.usage_table)
    inventory = Inventory.of(job.connection_id, inventories.read(job.connection_id), now, connection.inventory_since)
    try:
        customer = assume_role(
            clients,
            connection.role_arn,
            connection.external_id,
            settings.role_session_name,
            counter,
            session_actions=READ_ACTIONS,
            session_resources=READ_RESOURCES,
            read_members=READ_MEMBERS,
        )
    except RoleAssumptionError as exc:
        for hour in job.hours():
            _record(statuses, connection, hour, all_failed(connection, str(exc)), inventory)
        raise
    result = collect(customer, connection, job.hours(), workers=settings.region_workers, inventory=inventory)
    # Remembered before the usage is stored: a retry after a failure in between still knows what was seen.
    inventories.put(job.connection_id, inventory.seen(result.seen))
    usage = UsageStore(clients, settings.usage_table)
    by_hour = _records_by_hour(result, job.hours())
    written, hour_statuses = 0, []
    for hour, records in by_hour.items():
        written += usage.replace_hour(job.connection_id, hour, records, scopes=result.succeeded)
        hour_statuses.append(_record(statuses, connection, hour, result, inventory))
    if settings.calculate_queue_url:
        calculations = [CalculateJob(connection_id=job.connection_id, hour=hour) for hour in by_hour]
        enqueue(clients, settings.calculate_queue_url, calculations)
    incomplete = [status for status in hour_statuses if not status.complete]
    if incomplete:
        raise IncompleteCollectionError(_summary(incomplete[0]))
    connections.record_success(job.connection_id, job.hours()[-1], inventory.since, counter.metrics_requested)
    return CollectOutcome(job.connection_id, job.hour, records=written, counter=counter, status=hour_statuses[-1])


def _records_by_hour(result: CollectionResult, hours: Sequence[datetime]) -> dict[datetime, list[UsageRecord]]:
    # Every hour of the job, those without a record included: their stored usage is replaced by none.
    by_hour: dict[datetime, list[UsageRecord]] = {hour: [] for hour in hours}
    for record in result.records:
        by_hour[record.hour].append(record)
    return by_hour


def _record(
    statuses: StatusStore, connection: Connection, hour: datetime, result: CollectionResult, inventory: Inventory
) -> HourStatus:
    return statuses.record(
        connection.connection_id,
        hour,
        result.succeeded,
        result.failed,
        result.skipped,
        inventory_incomplete=not inventory.covers(hour),
    )


def _summary(status: HourStatus) -> str:
    scope, error = next(iter(sorted(status.failed.items())))
    more = f" (and {len(status.failed) - 1} more)" if len(status.failed) > 1 else ""
    return f"{hour_key(status.hour)}: {scope} failed: {error}{more}"


def expand_backfill_chunk(
    chunk: BackfillChunk, clients: ClientFactory, settings: Settings, now: datetime | None = None
) -> int:
    """Queue one CollectJob per collection window of ``chunk`` (per hour, for an hourly connection), once it is
    known to be one the scheduler could have made.

    A chunk is at most ``backfill_chunk_hours`` long (or one window, if longer), of settled hours CloudWatch still
    holds, for a known and enabled connection: anything else is refused with nothing queued.
    """
    if not settings.collect_queue_url:
        raise RuntimeError("CARBONMETER_COLLECT_QUEUE_URL is not set")
    connections = ConnectionStore(clients, settings.connections_table)
    if not connections.schedule(chunk.connection_id).enabled:
        raise SchedulingError(f"connection {chunk.connection_id!r} is disabled: backfill chunk refused")
    with _failure_recorded(connections, chunk.connection_id, chunk.start):
        hours = chunk.hours()
        limit = chunk_limit(chunk.window_hours, settings)
        if not 1 <= len(hours) <= limit:
            raise SchedulingError(f"a backfill chunk holds 1 to {limit} hours, this one {len(hours)}: refused")
        check_collectable("the backfill chunk", chunk.start, chunk.end, now or datetime.now(UTC), settings)
        jobs = window_jobs(chunk.connection_id, hours, chunk.window_hours)
        return enqueue(clients, settings.collect_queue_url, jobs)
