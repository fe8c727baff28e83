"""The dead-letter queues after a run: moving their messages back, as the runbook says, and counting what is left."""

from __future__ import annotations

from carbonmeter.aws import ClientFactory
from devtools.aws.resources import CALCULATE_QUEUE, COLLECT_QUEUE, DEAD_LETTER_SUFFIX


def _queue_url(clients: ClientFactory, name: str) -> str:
    url: str = clients.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return url


def move_dead_letters(clients: ClientFactory, queue: str) -> int:
    """Send every message of ``queue``'s dead-letter queue back to ``queue``; how many there were."""
    sqs = clients.client("sqs")
    source, dead = _queue_url(clients, queue), _queue_url(clients, queue + DEAD_LETTER_SUFFIX)
    moved = 0
    while messages := sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10).get("Messages", []):
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        sqs.send_message_batch(QueueUrl=source, Entries=entries)
        handles = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=dead, Entries=handles)
        moved += len(messages)
    return moved


def dead_letter_counts(clients: ClientFactory) -> dict[str, int]:
    """Messages in each dead-letter queue, visible or in flight, by the queue they came from."""
    sqs = clients.client("sqs")
    counts = {}
    for name in (COLLECT_QUEUE, CALCULATE_QUEUE):
        attributes = sqs.get_queue_attributes(
            QueueUrl=_queue_url(clients, name + DEAD_LETTER_SUFFIX),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        counts[name] = sum(int(value) for value in attributes.values())
    return counts
