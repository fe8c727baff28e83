"""The scheduler's page step: a batch of the hourly run's pages from the page queue, each planned once.

Powertools does the work around the use case (``carbonmeter.scheduling.run_page``): its batch processor reports
each failed page for a retry (SQS keeps one that fails for good in the dead-letter queue), and its idempotency
claims a page in DynamoDB, keyed by the look-back it plans and its connections. A page planned already, delivered
twice by SQS or sent again by a retried hourly run of the same hour, answers from its claim and queues nothing;
a page that failed midway has no claim and is planned again (its jobs are stored idempotently by the collector).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from carbonmeter.batch import LoggedBatchProcessor
from carbonmeter.metrics import MetricName
from carbonmeter.models import SchedulePage
from carbonmeter.runtime import Runtime, runtime
from carbonmeter.scheduling import PAGE_CLAIM_KEY, run_page

logger = Logger(child=True)
# A claim outlives every retry of its hour (the page queue's receives, the hourly rule's two retries): the next
# hour's pages plan another look-back, so have other keys anyway.
CLAIM_SECONDS = 2 * 3600


class PageMessage(SqsRecordModel):
    body: Json[SchedulePage]


processor = LoggedBatchProcessor(model=PageMessage)


def plan_pages(event: dict[str, Any], context: LambdaContext, metrics: Metrics) -> dict[str, Any]:
    """Plan each page of the SQS batch ``event``; the failed ones are reported for SQS to deliver again."""
    rt = runtime()
    config = IdempotencyConfig(event_key_jmespath=PAGE_CLAIM_KEY, expires_after_seconds=CLAIM_SECONDS)
    # An invocation that times out mid-page leaves its claim "in progress" only until the time it had left.
    config.register_lambda_context(context)
    claims = DynamoDBPersistenceLayer(
        table_name=rt.settings.idempotency_table, boto3_client=rt.clients.client("dynamodb")
    )

    @idempotent_function(data_keyword_argument="page", config=config, persistence_store=claims)
    def plan(page: SchedulePage) -> dict[str, int]:
        return _planned(rt, page, metrics)

    def record_handler(record: PageMessage) -> None:
        with logger.append_context_keys(page=record.body.page, lookback_end=record.body.lookback_end.isoformat()):
            plan(page=record.body)

    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )


def _planned(rt: Runtime, page: SchedulePage, metrics: Metrics) -> dict[str, int]:
    run = run_page(rt.clients, rt.settings, page, rt.clock())
    metrics.add_metric(name=MetricName.COLLECT_JOBS_QUEUED, unit=MetricUnit.Count, value=run.collect.jobs)
    metrics.add_metric(name=MetricName.CALCULATIONS_REQUEUED, unit=MetricUnit.Count, value=run.calculations_requeued)
    logger.info(
        "queued collect jobs",
        extra={
            "jobs": run.collect.jobs,
            "connections": run.collect.connections,
            "calculations": run.calculations_requeued,
        },
    )
    return {"jobs": run.collect.jobs, "calculations": run.calculations_requeued}
