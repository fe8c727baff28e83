"""The SQS queues: a work queue with its dead-letter queue, sized for the function that drains it, and the
dead-letter queue a function's failed asynchronous invocations go to."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import DLQ_MAX_RECEIVE_COUNT, DLQ_RETENTION, VISIBILITY_TIMEOUT_FACTOR, FunctionSpec


def visibility_timeout_for(consumer: FunctionSpec) -> Duration:
    """A message stays hidden long enough for the consumer's retries within one receive."""
    return Duration.seconds(consumer.timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR)


def _encryption(key: kms.IKey | None) -> sqs.QueueEncryption:
    return sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED


def dead_letter_queue(scope: Construct, construct_id: str, *, key: kms.IKey | None = None) -> sqs.Queue:
    """Where failed work waits for the operator: encrypted like the work queues, TLS only, kept for 14 days."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=_encryption(key),
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )


class WorkQueue(Construct):
    """Encrypted with ``key`` when given, else with SQS managed keys; both queues refuse plain HTTP."""

    def __init__(
        self, scope: Construct, construct_id: str, *, consumer: FunctionSpec, key: kms.IKey | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", key=key)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=_encryption(key),
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout_for(consumer),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=DLQ_MAX_RECEIVE_COUNT
            ),
        )
