"""A work queue with its dead-letter queue, sized for the function that drains it."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import DLQ_MAX_RECEIVE_COUNT, DLQ_RETENTION, VISIBILITY_TIMEOUT_FACTOR, FunctionSpec


def visibility_timeout_for(consumer: FunctionSpec) -> Duration:
    """A message stays hidden long enough for the consumer's retries within one receive."""
    return Duration.seconds(consumer.timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR)


class WorkQueue(Construct):
    """Encrypted with ``key`` when given, else with SQS managed keys; both queues refuse plain HTTP."""

    def __init__(
        self, scope: Construct, construct_id: str, *, consumer: FunctionSpec, key: kms.IKey | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        encryption = sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=encryption,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=encryption,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout_for(consumer),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=DLQ_MAX_RECEIVE_COUNT
            ),
        )
