"""Which connection-hours to collect, and putting them on the collect queue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR, CollectJob, Connection, ConnectionId, UtcHour, hours_between, previous_whole_hour
from carbonmeter.store import ConnectionStore, UnknownConnectionError

SQS_BATCH_SIZE = 10


class BackfillRequest(BaseModel):
    """A manual event: collect these connections for every hour in [start, end)."""

    model_config = ConfigDict(extra="forbid")

    connection_ids: list[ConnectionId] = Field(min_length=1)
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


def scheduled_jobs(connections: Iterable[Connection], now: datetime) -> list[CollectJob]:
    """One job per enabled connection for the previous whole UTC hour."""
    hour = previous_whole_hour(now)
    return [CollectJob(connection_id=c.connection_id, hour=hour) for c in connections if c.enabled]


def backfill_jobs(store: ConnectionStore, request: BackfillRequest, now: datetime, max_hours: int) -> list[CollectJob]:
    """One job per connection per hour of the request, after checking it whole."""
    latest_end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if request.end > latest_end:
        raise SchedulingError(f"end {request.end.isoformat()} is in the future or inside the current hour")
    hours = hours_between(request.start, request.end)
    if len(hours) > max_hours:
        raise SchedulingError(f"{len(hours)} hours requested; at most {max_hours} per event")
    connections = _known_connections(store, request.connection_ids)
    return [CollectJob(connection_id=c.connection_id, hour=hour) for c in connections for hour in hours]


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


def summarise(jobs: Sequence[CollectJob]) -> EnqueueResult:
    hours = sorted({job.hour for job in jobs})
    return EnqueueResult(
        jobs=len(jobs),
        connections=len({job.connection_id for job in jobs}),
        first_hour=hours[0] if hours else None,
        last_hour=hours[-1] + HOUR if hours else None,
    )
