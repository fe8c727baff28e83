"""SQS batches: the failed messages reported to SQS one by one, the whole batch failed when every one did."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import BaseModel, Json

from carbonmeter.batch import BatchFailed, FailedMessage, LoggedBatchProcessor, SqsMessage


class Job(BaseModel):
    connection_id: str
    fail: bool = False


class JobMessage(SqsMessage):
    body: Json[Job]


def _event(*bodies: str) -> dict[str, object]:
    return {"Records": [{"messageId": f"m-{i}", "body": body} for i, body in enumerate(bodies)]}


def _handle(message: JobMessage) -> None:
    if message.body.fail:
        raise RuntimeError("boom")


def test_failed_and_unparseable_messages_are_reported_and_traced(caplog: pytest.LogCaptureFixture) -> None:
    traced: list[FailedMessage] = []
    processor = LoggedBatchProcessor(JobMessage, on_failure=lambda failed, _: traced.append(failed))
    event = _event(json.dumps({"connection_id": "a"}), json.dumps({"connection_id": "b", "fail": True}), "{not json")
    # When the batch is processed, Then SQS is told of the two failed messages only
    with caplog.at_level(logging.ERROR, logger="carbonmeter.batch"):
        response = processor.process(event, _handle)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    # and each left an ERROR line; the one naming its connection was traced on it
    assert [r.message_id for r in caplog.records] == ["m-1", "m-2"]  # type: ignore[attr-defined]
    assert traced == [FailedMessage("m-1", "b", None, parsed=True)]


def test_a_batch_whose_every_message_failed_fails_whole() -> None:
    processor = LoggedBatchProcessor(JobMessage)
    with pytest.raises(BatchFailed, match="all 2 messages"):
        processor.process(_event(json.dumps({"connection_id": "b", "fail": True}), "[]"), _handle)


def test_an_empty_batch_reports_nothing_and_a_non_sqs_event_is_refused() -> None:
    processor = LoggedBatchProcessor(JobMessage)
    assert processor.process({"Records": []}, _handle) == {"batchItemFailures": []}
    with pytest.raises(ValueError, match="not an SQS event"):
        processor.process({"detail": {}}, _handle)
