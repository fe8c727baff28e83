"""A work queue with its dead-letter queue, sized for the function that drains it."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import DLQ_MAX_RECEIVE_COUNT, DLQ_RETENTION, VISIBILITY_TIMEOUT_FACTOR, FunctionSpec


def visibility_timeout_for(consumer: FunctionSpec) -> Duration:
    """A message stays hidden long enough for the consumer's retries within one receive."""
    return Duration.seconds(consumer.timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR)


class WorkQueue(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, consumer: FunctionSpec) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout_for(consumer),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=DLQ_MAX_RECEIVE_COUNT
            ),
        )
