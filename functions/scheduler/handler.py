"""Scheduler: every hour (or on a manual backfill event) queue the connection-hours to collect.

The hourly run sends the enabled connections in pages to the scheduler's own page queue; drained from that queue,
the same function plans each page (its connections' statuses, their jobs). A page is claimed once planned
(Powertools idempotency), so a page delivered twice, or sent again by a retried run of the same hour, queues
nothing more.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbonmeter.metrics import MetricName
from carbonmeter.models import hour_key
from carbonmeter.runtime import Runtime, runtime
from carbonmeter.scheduling import EnqueueResult, parse_backfill, run_backfill, run_hourly

logger = Logger()
# X-Ray traces the AWS calls (botocore). Powertools' default patches every library the X-Ray SDK knows (requests,
# sqlite3, httpx, ...), importing each on every cold start although this function uses none of them.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
# The library logs through the standard logging module; give its lines the same JSON and keys.
copy_config_to_registered_loggers(source_logger=logger, include={"carbonmeter"})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    if "Records" in event:
        # Imported here: the page step's batch processing and claims are not the hourly run's.
        from functions.scheduler.pages import plan_pages

        return plan_pages(event, context, metrics)
    if "insight" in event:
        # Imported here: the insights' runs come once a day, the hourly run every hour, and the insights bring
        # the cost and reconciliation code (and the collectors' read actions) a cold start should not pay for.
        from carbonmeter.insights.schedule import parse_insight_event, run_insight_schedule

        # The daily cost run or the monthly reconciliation (their rules' target input names which).
        insight = run_insight_schedule(rt.clients, rt.settings, parse_insight_event(event), rt.clock())
        metrics.add_metric(name=MetricName.INSIGHT_JOBS_QUEUED, unit=MetricUnit.Count, value=insight.jobs)
        logger.info("queued insight jobs", extra={"insight": str(insight.insight), "jobs": insight.jobs})
        return {"insight": str(insight.insight), "jobs": insight.jobs}
    if "connection_ids" in event:
        return _backfill(rt, event)
    return _hourly(rt, event)


def _backfill(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    result = run_backfill(rt.clients, rt.settings, parse_backfill(event), rt.clock())
    if result.hours_before_first_look:
        logger.warning(
            "backfill hours before CarbonMeter first looked at the account: resources that had ended by then are "
            "missing from them",
            extra={"hours": result.hours_before_first_look},
        )
    # Its hours older than the first look at the account: their status says so too.
    return _queued(result) | {"hours_before_first_look": result.hours_before_first_look}


def _hourly(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    run = run_hourly(rt.clients, rt.settings, parse(event=event, model=EventBridgeModel).time, rt.clock())
    metrics.add_metric(name=MetricName.STALE_CONNECTIONS, unit=MetricUnit.Count, value=len(run.stale_connections))
    metrics.add_metric(name=MetricName.SCHEDULE_PAGES_QUEUED, unit=MetricUnit.Count, value=run.pages)
    if run.stale_connections:
        logger.warning("connections without a successful hour", extra={"connection_ids": run.stale_connections})
    logger.info("queued schedule pages", extra={"pages": run.pages, "connections": run.connections})
    return {"pages": run.pages, "connections": run.connections}


def _queued(result: EnqueueResult) -> dict[str, Any]:
    metrics.add_metric(name=MetricName.COLLECT_JOBS_QUEUED, unit=MetricUnit.Count, value=result.jobs)
    logger.info("queued collect jobs", extra={"jobs": result.jobs, "connections": result.connections})
    return {
        "jobs": result.jobs,
        "connections": result.connections,
        "start": hour_key(result.first_hour) if result.first_hour else None,
        "end": hour_key(result.last_hour) if result.last_hour else None,
    }
