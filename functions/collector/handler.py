"""Collector: for each queued connection-hour, read the customer's usage and store it.

Invoked directly with ``{"check_access": ...}`` (``carbonmeter connections test`` and ``add``), it checks that a
role can be assumed with its ExternalId and each region read, as only this function's role may assume them.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from carbonmeter.batch import FailedMessage, LoggedBatchProcessor
from carbonmeter.collect_step import collect_connection_hour, expand_backfill_chunk, record_rejected_message
from carbonmeter.metrics import MetricName
from carbonmeter.models import BackfillChunk, CollectJob, CostJob, ReconcileJob, hour_key
from carbonmeter.runtime import runtime

logger = Logger()
# X-Ray traces the AWS calls (botocore). Powertools' default patches every library the X-Ray SDK knows (requests,
# sqlite3, httpx, ...), importing each on every cold start although this function uses none of them.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
# The library logs through the standard logging module; give its lines the same JSON and keys.
copy_config_to_registered_loggers(source_logger=logger, include={"carbonmeter"})


class CollectMessage(SqsRecordModel):
    body: Json[CollectJob | BackfillChunk | CostJob | ReconcileJob]


def _rejected(failed: FailedMessage, error: BaseException) -> None:
    record_rejected_message(failed, error, runtime().clients, runtime().settings)


processor = LoggedBatchProcessor(model=CollectMessage, on_failure=_rejected)


@tracer.capture_method
def record_handler(record: CollectMessage) -> None:
    message = record.body
    if isinstance(message, BackfillChunk):
        with logger.append_context_keys(connection_id=message.connection_id, chunk_start=hour_key(message.start)):
            queued = expand_backfill_chunk(message, runtime().clients, runtime().settings, runtime().clock())
            logger.info("expanded backfill chunk", extra={"jobs": queued})
        return
    if isinstance(message, CostJob | ReconcileJob):
        with logger.append_context_keys(connection_id=message.connection_id, job=message.kind):
            _handle_insight(message)
        return
    with logger.append_context_keys(connection_id=message.connection_id, hour=hour_key(message.hour)):
        _handle(message)


def _handle_insight(job: CostJob | ReconcileJob) -> None:
    # Imported here: a cost or reconciliation job comes once a day per connection, a collect job every hour, and
    # a cold start should not pay for what its message does not need.
    from carbonmeter.insights.costs import collect_costs
    from carbonmeter.insights.reconciliation import collect_aws_month

    rt = runtime()
    failed, done = (
        (MetricName.COST_JOBS_FAILED, MetricName.COST_DAYS_FETCHED)
        if isinstance(job, CostJob)
        else (MetricName.RECONCILIATION_JOBS_FAILED, MetricName.RECONCILIATION_MONTHS_FETCHED)
    )
    try:
        if isinstance(job, CostJob):
            fetched = len(collect_costs(job, rt.clients, rt.settings, rt.clock()))
            logger.info(
                "fetched daily costs",
                extra={"days": fetched, "first_day": str(job.first_day), "end_day": str(job.end_day)},
            )
        else:
            month = collect_aws_month(job, rt.clients, rt.settings, rt.clock())
            fetched = int(month is not None)
            logger.info("fetched AWS's carbon figures", extra={"month": job.month, "published": bool(fetched)})
    except Exception:
        # Retried by the queue; the alarm watches these (docs/operations.md).
        metrics.add_metric(name=failed, unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name=done, unit=MetricUnit.Count, value=fetched)


def _handle(job: CollectJob) -> None:
    rt = runtime()
    started = time.monotonic()
    outcome = collect_connection_hour(job, rt.clients, rt.settings, rt.clock())
    counter = outcome.counter
    metrics.add_metric(name=MetricName.USAGE_RECORDS_WRITTEN, unit=MetricUnit.Count, value=outcome.records)
    metrics.add_metric(name=MetricName.API_CALLS, unit=MetricUnit.Count, value=counter.total_calls)
    metrics.add_metric(name=MetricName.METRICS_REQUESTED, unit=MetricUnit.Count, value=counter.metrics_requested)
    metrics.add_metric(
        name=MetricName.GET_METRIC_DATA_REQUESTS,
        unit=MetricUnit.Count,
        value=counter.calls.get("monitoring:GetMetricData", 0),
    )
    metrics.add_metric(name=MetricName.COLLECT_DURATION, unit=MetricUnit.Milliseconds, value=_elapsed_ms(started))
    logger.info(
        "collected connection-hour",
        extra={"records": outcome.records, "skipped": outcome.skipped, "api_calls": counter.calls},
    )


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _check_access(event: dict[str, Any]) -> dict[str, Any]:
    # Imported here: access checks come when an operator adds or tests a connection, not with the hourly jobs.
    from carbonmeter.connections import ACCESS_CHECKS, AccessCheckEvent, check_access

    request = parse(event=event, model=AccessCheckEvent).check_access
    rt = runtime()
    check = check_access(
        rt.clients, request.role_arn, request.external_id, request.regions, rt.settings.role_session_name
    )
    # The role and the outcome, never the ExternalId.
    logger.info("checked access", extra={"role_arn": check.role_arn, "ok": check.ok})
    answer: dict[str, Any] = ACCESS_CHECKS.dump_python(check, mode="json")
    return answer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    if "check_access" in event:
        return _check_access(event)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
