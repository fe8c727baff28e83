"""Scheduler: every hour (or on a manual backfill event) queue one message per connection-hour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from carbonmeter.models import hour_key
from carbonmeter.runtime import runtime
from carbonmeter.scheduling import BackfillRequest, SchedulingError, backfill_jobs, enqueue, scheduled_jobs, summarise
from carbonmeter.store import ConnectionStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    connections = ConnectionStore(rt.clients, rt.settings.connections_table)
    now = datetime.now(UTC)
    if "connection_ids" in event:
        request = _parse_backfill(event)
        jobs = backfill_jobs(connections, request, now, rt.settings.max_backfill_hours)
    else:
        scheduled = parse(event=event, model=EventBridgeModel)
        jobs = scheduled_jobs(connections.list(enabled_only=True), scheduled.time)
    if not rt.settings.collect_queue_url:
        raise SchedulingError("CARBONMETER_COLLECT_QUEUE_URL is not set")
    enqueue(rt.clients, rt.settings.collect_queue_url, jobs)
    result = summarise(jobs)
    metrics.add_metric(name="CollectJobsQueued", unit=MetricUnit.Count, value=result.jobs)
    logger.info("queued collect jobs", extra={"jobs": result.jobs, "connections": result.connections})
    return {
        "jobs": result.jobs,
        "connections": result.connections,
        "start": hour_key(result.first_hour) if result.first_hour else None,
        "end": hour_key(result.last_hour) if result.last_hour else None,
    }


def _parse_backfill(event: dict[str, Any]) -> BackfillRequest:
    try:
        return BackfillRequest.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        raise SchedulingError(f"invalid backfill event: {problems}") from None
