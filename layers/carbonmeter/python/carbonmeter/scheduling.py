"""Which connection-hours to collect, and putting them on the collect queue.

Every hour the scheduler queues, per enabled connection, each hour of the look-back
window that has never been collected, or whose last collection missed something and
is old enough that its own retries are over. An outage of the pipeline or of a
customer's role therefore leaves no gap once it ends, within the look-back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonmeter.aws import ClientFactory
from carbonmeter.models import (
    HOUR,
    BackfillChunk,
    CollectJob,
    Connection,
    ConnectionId,
    HourStatus,
    UtcHour,
    hours_between,
    previous_whole_hour,
)
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, UnknownConnectionError

SQS_BATCH_SIZE = 10
# CloudWatch keeps hourly datapoints for 455 days; older hours cannot be collected.
CLOUDWATCH_HOURLY_RETENTION = timedelta(days=455)
MAX_CONNECTIONS_PER_BACKFILL = 100

StatusLookup = Callable[[Connection, datetime, datetime], Mapping[datetime, HourStatus]]


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


@dataclass(frozen=True)
class EnqueueResult:
    jobs: int
    connections: int
    first_hour: datetime | None
    last_hour: datetime | None


def due_hours(
    connection: Connection, statuses: Mapping[datetime, HourStatus], now: datetime, settings: Settings
) -> list[datetime]:
    """The hours of ``connection`` the hourly run should queue."""
    latest = previous_whole_hour(now)
    earliest = max(latest - (settings.lookback_hours - 1) * HOUR, _first_hour(connection, latest))
    retry_before = now - timedelta(hours=settings.retry_incomplete_after_hours)
    return [
        hour
        for hour in hours_between(earliest, latest + HOUR)
        if hour not in statuses or (not statuses[hour].complete and statuses[hour].updated_at <= retry_before)
    ]


def _first_hour(connection: Connection, latest: datetime) -> datetime:
    # A connection is collected from the hour it was registered in; older registrations predate the field.
    if connection.created_at is None:
        return latest
    return connection.created_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def scheduled_jobs(
    connections: Iterable[Connection], statuses: StatusLookup, now: datetime, settings: Settings
) -> list[CollectJob]:
    """The jobs of the hourly run: every due hour of every enabled connection."""
    latest = previous_whole_hour(now)
    start = latest - (settings.lookback_hours - 1) * HOUR
    return [
        CollectJob(connection_id=connection.connection_id, hour=hour)
        for connection in connections
        if connection.enabled
        for hour in due_hours(connection, statuses(connection, start, latest + HOUR), now, settings)
    ]


def stale_connections(connections: Iterable[Connection], now: datetime, settings: Settings) -> list[str]:
    """Enabled connections with no successful hour for ``stale_after_hours`` (registered at least that long ago)."""
    limit = now - timedelta(hours=settings.stale_after_hours)
    return [c.connection_id for c in connections if c.enabled and (c.last_success_at or c.created_at or limit) <= limit]


def backfill_messages(
    store: ConnectionStore, request: BackfillRequest, now: datetime, settings: Settings
) -> list[CollectJob | BackfillChunk]:
    """Jobs for a short backfill; for a long one, chunks (``backfill_chunk_hours`` each) the collector expands."""
    latest_end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if request.end > latest_end:
        raise SchedulingError(f"end {request.end.isoformat()} is in the future or inside the current hour")
    if request.start < latest_end - CLOUDWATCH_HOURLY_RETENTION:
        raise SchedulingError("start is older than CloudWatch keeps hourly data (455 days)")
    connections = _known_connections(store, request.connection_ids)
    hours = hours_between(request.start, request.end)
    if len(hours) <= settings.backfill_chunk_hours:
        return [CollectJob(connection_id=c.connection_id, hour=hour) for c in connections for hour in hours]
    return [
        BackfillChunk(connection_id=c.connection_id, start=chunk[0], end=chunk[-1] + HOUR)
        for c in connections
        for chunk in _chunks(hours, settings.backfill_chunk_hours)
    ]


def _chunks(hours: Sequence[datetime], size: int) -> list[Sequence[datetime]]:
    return [hours[i : i + size] for i in range(0, len(hours), size)]


def _known_connections(store: ConnectionStore, connection_ids: Sequence[str]) -> list[Connection]:
    found, missing = [], []
    for connection_id in dict.fromkeys(connection_ids):
        try:
            found.append(store.get(connection_id))
        except UnknownConnectionError:
            missing.append(connection_id)
    if missing:
        raise SchedulingError(f"unknown connection ids: {', '.join(missing)}")
    disabled = [c.connection_id for c in found if not c.enabled]
    if disabled:
        raise SchedulingError(f"disabled connections: {', '.join(disabled)}")
    return found


def enqueue(clients: ClientFactory, queue_url: str, jobs: Sequence[BaseModel]) -> int:
    """Send ``jobs`` with SendMessageBatch, ten at a time; raise if any message was refused."""
    sqs = clients.client("sqs")
    for start in range(0, len(jobs), SQS_BATCH_SIZE):
        batch = jobs[start : start + SQS_BATCH_SIZE]
        entries = [{"Id": str(i), "MessageBody": job.model_dump_json()} for i, job in enumerate(batch)]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            reasons = "; ".join(f"{f.get('Code')}: {f.get('Message', '')}" for f in failed)
            raise RuntimeError(f"{len(failed)} of {len(batch)} messages were not queued: {reasons}")
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
    return message.hours() if isinstance(message, BackfillChunk) else [message.hour]
