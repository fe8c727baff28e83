"""The insights' schedules: the daily cost run and the monthly reconciliation, fanned out on the collect queue.

Both are EventBridge rules invoking the scheduler with ``{"insight": ..., "time": <the event's time>}``; the jobs
go to the collect queue because the collector's role alone may assume the customers' roles. The monthly rule
fires every day: a connection whose due month is stored gets no job, so a month AWS publishes late, or a job that
failed for good, is fetched again the next day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, ValidationError

from carbonmeter.aws import ClientFactory
from carbonmeter.insights import costs, reconciliation
from carbonmeter.models import CostJob, ReconcileJob
from carbonmeter.scheduling import SchedulingError, enqueue, hourly_reference
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore


class Insight(StrEnum):
    COSTS = "costs"
    RECONCILIATION = "reconciliation"


class InsightScheduleEvent(BaseModel):
    """What the insights' rules send the scheduler (their target input): which run, and the event's time."""

    model_config = ConfigDict(extra="forbid")

    insight: Insight
    time: datetime


def parse_insight_event(event: Mapping[str, object]) -> InsightScheduleEvent:
    try:
        return InsightScheduleEvent.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        raise SchedulingError(f"invalid insight schedule event: {problems}") from None


@dataclass(frozen=True)
class InsightRun:
    insight: Insight
    jobs: int


def run_insight_schedule(
    clients: ClientFactory, settings: Settings, event: InsightScheduleEvent, now: datetime
) -> InsightRun:
    """Queue the run's jobs: every enabled connection's last days of spend, or its due month of AWS's figures."""
    reference = hourly_reference(event.time, now)
    if not settings.collect_queue_url:
        raise SchedulingError("CARBONMETER_COLLECT_QUEUE_URL must be set")
    connection_ids = [
        c.connection_id for c in ConnectionStore(clients, settings.connections_table).schedules(enabled_only=True)
    ]
    jobs: list[CostJob] | list[ReconcileJob]
    if event.insight is Insight.COSTS:
        jobs = costs.daily_jobs(connection_ids, reference)
    else:
        months = reconciliation.AwsCarbonStore(clients, settings.usage_table)
        jobs = reconciliation.monthly_jobs(connection_ids, months.stored, reference)
    enqueue(clients, settings.collect_queue_url, jobs)
    return InsightRun(insight=event.insight, jobs=len(jobs))


def backfill_jobs(
    connection_ids: list[str], start: datetime, end: datetime, now: datetime
) -> list[CostJob | ReconcileJob]:
    """What a backfill of [start, end) adds: the days of spend Cost Explorer still has, and the published months."""
    return [
        *costs.backfill_jobs(connection_ids, start, end, now),
        *reconciliation.backfill_jobs(connection_ids, start, end, now),
    ]
