"""The embedded AWS's fast SQS sends: moto's own answers byte for byte, in a time that does not grow with the queue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import moto.sqs.models
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.moto_api._internal import mock_random

from devtools.aws.server import embedded_aws
from devtools.aws.sqs_speed import sending, sqs_sends_fast

# moto's clock, held still so that two runs stamp their messages alike (milliseconds)
START = 1_764_000_000_000.0


class _Clock:
    def __init__(self) -> None:
        self.now_ms = START
        self.reads = 0

    def millis(self) -> float:
        self.reads += 1
        return self.now_ms

    def seconds(self) -> float:
        return self.now_ms / 1000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    held = _Clock()
    monkeypatch.setattr(moto.sqs.models, "unix_time_millis", held.millis)
    monkeypatch.setattr(moto.sqs.models, "unix_time", held.seconds)
    return held


@contextmanager
def _bodies(client: Any) -> Iterator[list[bytes]]:
    """Every HTTP body SQS answers meanwhile, as moto wrote it."""
    bodies: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.content)

    client.meta.events.register("after-call.sqs", keep)
    try:
        yield bodies
    finally:
        client.meta.events.unregister("after-call.sqs", keep)


_QUEUES = [
    pytest.param("standard", {}, {}, id="standard"),
    pytest.param(
        "dedup.fifo", {"FifoQueue": "true", "ContentBasedDeduplication": "true"}, {"MessageGroupId": "g"}, id="fifo"
    ),
    pytest.param("ids.fifo", {"FifoQueue": "true"}, {"MessageGroupId": "g"}, id="fifo-without-content-dedup"),
]


def _conversation(clock: _Clock, name: str, attributes: dict[str, str], extra: dict[str, str]) -> list[bytes]:
    """Sends (one, a batch with a repeated body, a refused one), counts, a receive and counts again, seeded alike."""
    mock_random.seed(7)
    clock.now_ms = START
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        ids = {"MessageDeduplicationId": "d"} if name == "ids.fifo" else {}
        entries = [{"Id": f"e{n}", "MessageBody": f"job {n % 4}", **extra} for n in range(10)]
        if name == "ids.fifo":
            entries = [{**entry, "MessageDeduplicationId": f"d{n}"} for n, entry in enumerate(entries)]
        with _bodies(client) as answers:
            client.send_message(QueueUrl=url, MessageBody="first", **extra, **ids)
            client.send_message_batch(QueueUrl=url, Entries=entries)
            if name == "ids.fifo":
                # Without content deduplication or an id, moto refuses the send: read from the attributes too
                with pytest.raises(ClientError, match="ContentBasedDeduplication"):
                    client.send_message(QueueUrl=url, MessageBody="no id", **extra)
            clock.now_ms += 2_000
            client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            client.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=30)
            client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return answers


@pytest.mark.parametrize(("name", "attributes", "extra"), _QUEUES)
def test_the_patched_sends_answer_as_moto_does_byte_for_byte(clock, name, attributes, extra):
    # Given moto's own answers to a conversation with the queue
    unpatched = _conversation(clock, name, attributes, extra)
    # When the same conversation is held with the patch
    with sqs_sends_fast():
        patched = _conversation(clock, name, attributes, extra)
    # Then every answer is the same bytes: ids, MD5s, sequence numbers, deduplication and the counts
    assert patched == unpatched
    assert b"ApproximateNumberOfMessagesNotVisible" in patched[-1]
    assert not sending()


def test_the_counts_still_count_after_sends_with_the_patch(clock):
    with mock_aws(), sqs_sends_fast():
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="q")["QueueUrl"]
        client.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(10)])
        client.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=60)
        clock.now_ms += 1
        client.receive_message(QueueUrl=url, MaxNumberOfMessages=4, VisibilityTimeout=30)
        found = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (found["ApproximateNumberOfMessages"], found["ApproximateNumberOfMessagesNotVisible"]) == ("6", "4")
    assert found["ApproximateNumberOfMessagesDelayed"] == "1"


def _clock_reads_of_one_batch(clock: _Clock, queued: int) -> int:
    """How often a batch of ten sent to a queue already holding ``queued`` messages reads moto's clock."""
    client = boto3.client("sqs", region_name="us-east-1")
    url = client.create_queue(QueueName=f"q{queued}")["QueueUrl"]
    entries = [{"Id": str(n), "MessageBody": str(n)} for n in range(10)]
    for _ in range(queued // 10):
        client.send_message_batch(QueueUrl=url, Entries=entries)
    before = clock.reads
    client.send_message_batch(QueueUrl=url, Entries=entries)
    return clock.reads - before


def test_a_send_no_longer_walks_the_queue(clock):
    with mock_aws():
        # moto on its own: each message of a batch walks the queue (its three counts ask the clock per message)
        assert _clock_reads_of_one_batch(clock, 200) - _clock_reads_of_one_batch(clock, 10) >= 10 * 3 * 190
        with sqs_sends_fast():
            # With the patch: the same reads whatever the queue holds (one stamp per message)
            assert _clock_reads_of_one_batch(clock, 200) == _clock_reads_of_one_batch(clock, 10) == 10


def test_the_embedded_aws_sends_without_walking_the_queue(clock):
    with embedded_aws():
        # The embedded server answers on its own threads: the patch is open there too
        assert _clock_reads_of_one_batch(clock, 100) == _clock_reads_of_one_batch(clock, 10) == 10
