"""Calculator: turn each queued connection-hour's usage into energy and emissions."""

from __future__ import annotations

import gc
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from carbonmeter.batch import LoggedBatchProcessor
from carbonmeter.calculate_step import calculate_connection_hour
from carbonmeter.emissions.providers import EmissionsProvider, provider_for
from carbonmeter.metrics import MetricName
from carbonmeter.models import CalculateJob, hour_key
from carbonmeter.runtime import runtime

logger = Logger()
# X-Ray traces the AWS calls (botocore). Powertools' default patches every library the X-Ray SDK knows (requests,
# sqlite3, httpx, ...), importing each on every cold start although only a remote provider
# uses one (requests), patched when that provider is built.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
# The library logs through the standard logging module; give its lines the same JSON and keys.
copy_config_to_registered_loggers(source_logger=logger, include={"carbonmeter"})


# Everything imported so far lives as long as the container: moved out of the garbage collector's generations, it
# is not scanned again by every full collection the hour's thousands of records set off (docs/benchmarks.md,
# "Calculator throughput": about a third more records a second).
gc.freeze()


class CalculateMessage(SqsRecordModel):
    body: Json[CalculateJob]


processor = LoggedBatchProcessor(model=CalculateMessage)


@tracer.capture_method
def record_handler(record: CalculateMessage) -> None:
    job = record.body
    with logger.append_context_keys(connection_id=job.connection_id, hour=hour_key(job.hour)):
        _handle(job)


@cache
def _provider() -> EmissionsProvider:
    # Once per container: a remote provider keeps its HTTP session and its cached API key.
    rt = runtime()
    if rt.settings.emissions_provider != "builtin":
        tracer.patch(modules=("requests",))  # its HTTP calls traced as the AWS calls are
    return provider_for(rt.settings, rt.clients)


def _handle(job: CalculateJob) -> None:
    rt = runtime()
    outcome = calculate_connection_hour(job, rt.clients, rt.settings, _provider(), rt.clock())
    metrics.add_metric(name=MetricName.RESOURCES_CALCULATED, unit=MetricUnit.Count, value=outcome.resources)
    metrics.add_metric(name=MetricName.ENERGY_KWH, unit=MetricUnit.Count, value=outcome.energy_kwh)
    metrics.add_metric(name=MetricName.OPERATIONAL_KGCO2E, unit=MetricUnit.Count, value=outcome.operational_kgco2e)
    metrics.add_metric(name=MetricName.PROVIDER_FALLBACKS, unit=MetricUnit.Count, value=outcome.fallbacks)
    metrics.add_metric(name=MetricName.ANOMALY_ALERTS, unit=MetricUnit.Count, value=outcome.anomaly_alerts)
    logger.info(
        "calculated connection-hour",
        extra={
            "resources": outcome.resources,
            "energy_kwh": outcome.energy_kwh,
            "operational_kgco2e": outcome.operational_kgco2e,
            "embodied_kgco2e": outcome.embodied_kgco2e,
            "provider_fallbacks": outcome.fallbacks,
            "anomalies": outcome.anomalies,
            "anomaly_alerts": outcome.anomaly_alerts,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
