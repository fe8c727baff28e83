"""Scheduler: every hour (or on a manual backfill event) queue the connection-hours to collect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from carbonmeter.models import BackfillChunk, CollectJob, Connection, hour_key
from carbonmeter.runtime import Runtime, runtime
from carbonmeter.scheduling import (
    BackfillRequest,
    SchedulingError,
    backfill_messages,
    enqueue,
    scheduled_jobs,
    stale_connections,
    summarise,
)
from carbonmeter.store import ConnectionStore, StatusStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# The library logs through the standard logging module; give its lines the same JSON and keys.
copy_config_to_registered_loggers(source_logger=logger, include={"carbonmeter"})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    if not rt.settings.collect_queue_url:
        raise SchedulingError("CARBONMETER_COLLECT_QUEUE_URL is not set")
    now = datetime.now(UTC)
    if "connection_ids" in event:
        messages = backfill_messages(_connections(rt), _parse_backfill(event), now, rt.settings)
    else:
        messages = list(_hourly(rt, parse(event=event, model=EventBridgeModel).time))
    enqueue(rt.clients, rt.settings.collect_queue_url, messages)
    result = summarise(messages)
    metrics.add_metric(name="CollectJobsQueued", unit=MetricUnit.Count, value=result.jobs)
    logger.info("queued collect jobs", extra={"jobs": result.jobs, "connections": result.connections})
    return {
        "jobs": result.jobs,
        "connections": result.connections,
        "start": hour_key(result.first_hour) if result.first_hour else None,
        "end": hour_key(result.last_hour) if result.last_hour else None,
    }


def _hourly(rt: Runtime, fired_at: datetime) -> list[CollectJob | BackfillChunk]:
    connections = list(_connections(rt).list(enabled_only=True))
    statuses = StatusStore(rt.clients, rt.settings.usage_table)

    def lookup(connection: Connection, start: datetime, end: datetime) -> dict[datetime, Any]:
        return statuses.between(connection.connection_id, start, end)

    stale = stale_connections(connections, fired_at, rt.settings)
    metrics.add_metric(name="StaleConnections", unit=MetricUnit.Count, value=len(stale))
    if stale:
        logger.warning("connections without a successful hour", extra={"connection_ids": stale})
    return list(scheduled_jobs(connections, lookup, fired_at, rt.settings))


def _connections(rt: Runtime) -> ConnectionStore:
    return ConnectionStore(rt.clients, rt.settings.connections_table)


def _parse_backfill(event: dict[str, Any]) -> BackfillRequest:
    try:
        return BackfillRequest.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        raise SchedulingError(f"invalid backfill event: {problems}") from None
