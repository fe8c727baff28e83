"""The embedded AWS finds each request's service without listing moto's package from disk every time."""

from __future__ import annotations

from collections.abc import Iterable

import boto3
import pytest
from moto import backends

from devtools.aws.server import embedded_aws


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every listing of moto's modules (a folder listing and an ``isdir`` per entry), counted."""
    seen: list[int] = []
    original = backends.list_of_moto_modules

    def listed() -> Iterable[str]:
        seen.append(1)
        return original()

    monkeypatch.setattr(backends, "list_of_moto_modules", listed)
    return seen


def _requests() -> None:
    # Two services whose host moto's server has to infer (DynamoDB by its target, SQS by its query)
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="dispatch")["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "5"
    }


def test_requests_are_answered_with_moto_modules_listed_once(listings):
    with embedded_aws():
        # Listed once as the emulator starts, and not again, whatever the requests (moto lists them twice each)
        _requests()
        assert len(listings) == 1
        assert "sqs" in backends.list_of_moto_modules()
    # After the block, moto lists them as it did
    assert "sqs" in backends.list_of_moto_modules()
    assert len(listings) == 2
