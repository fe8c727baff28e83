"""SQS batches, reported message by message, whose failed messages each leave one ERROR line, and a trace where
they name a connection.

SQS delivers again only the messages a batch reports failed (``batchItemFailures``), or all of them when the
whole batch failed. Powertools' BatchProcessor does that, but logs a failed record at DEBUG only (operators
filter on ERROR, docs/operations.md), and importing it brings about fifty modules to each cold start (the
data classes of four event sources, its middleware factory, the parser; docs/benchmarks.md) for what the
functions need of it: an SQS record's id and body, and the failures reported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

from pydantic import BaseModel

from carbonmeter.errors import describe_error
from carbonmeter.models import hour_key

logger = logging.getLogger(__name__)
# What a log line keeps of a value read from an unparsed message: enough to find it, too little to flood.
_MAX_FIELD = 100


class SqsMessage(BaseModel):
    """What the functions read of an SQS record; a function's own message types ``body`` (``Json[...]``)."""

    messageId: str  # SQS's name for it
    body: Any


class ItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    """What a function answers SQS: the messages to deliver again."""

    batchItemFailures: list[ItemFailure]


class BatchFailed(RuntimeError):
    """Every message of the batch failed: SQS delivers them all again (each failure was logged)."""

    def __init__(self, errors: Sequence[BaseException]) -> None:
        super().__init__(f"all {len(errors)} messages of the batch failed; each is logged at ERROR")
        self.errors = tuple(errors)


@dataclass(frozen=True)
class FailedMessage:
    """What can be read of a message that failed: always its id, its connection and hour when parseable."""

    message_id: str
    connection_id: str | None
    hour: str | None
    parsed: bool


OnFailure = Callable[[FailedMessage, BaseException], None]
MessageT = TypeVar("MessageT", bound=SqsMessage)


class LoggedBatchProcessor(Generic[MessageT]):
    """Each record of an SQS event parsed into ``model`` and handled; each failure logged at ERROR, handed to
    ``on_failure`` and reported to SQS."""

    def __init__(self, model: type[MessageT], on_failure: OnFailure | None = None) -> None:
        self._model = model
        self._on_failure = on_failure

    def process(self, event: Mapping[str, Any], handle: Callable[[MessageT], None]) -> PartialBatchResponse:
        """``handle`` of every record, in order; the failed ones reported, ``BatchFailed`` when all failed."""
        records = event.get("Records")
        if not isinstance(records, list):
            raise ValueError("not an SQS event: no Records list")
        failures: list[ItemFailure] = []
        errors: list[BaseException] = []
        for record in records:
            message, error = self._processed(record, handle)
            if error is not None:
                errors.append(error)
                failures.append({"itemIdentifier": self._failed(record if message is None else message, error)})
        if records and len(errors) == len(records):
            raise BatchFailed(errors)
        return {"batchItemFailures": failures}

    def _processed(self, record: Any, handle: Callable[[MessageT], None]) -> tuple[MessageT | None, Exception | None]:
        """The parsed message (None if it did not parse) and the error that failed it, if any."""
        try:
            message = self._model.model_validate(record)
        except Exception as error:  # a message that does not parse fails alone, as any other
            return None, error
        try:
            handle(message)
        except Exception as error:  # one message's failure is reported, the batch goes on
            return message, error
        return message, None

    def _failed(self, record: Any, error: BaseException) -> str:
        """Logs the failed ``record`` (a parsed message, or the record as SQS sent it) and traces it; its id."""
        failed = failed_message(record)
        logger.error(
            "message failed; SQS will deliver it again, and after its last receive park it in the dead-letter queue",
            extra={
                "message_id": failed.message_id,
                "connection_id": failed.connection_id,
                "hour": failed.hour,
                "parsed": failed.parsed,
                "error": describe_error(error),
            },
            # A message that failed to parse has nothing worth a traceback; one that failed in our code has.
            exc_info=error if failed.parsed else None,
        )
        if self._on_failure is not None and failed.connection_id is not None:
            self._trace(failed, error)
        return failed.message_id

    def _trace(self, failed: FailedMessage, error: BaseException) -> None:
        assert self._on_failure is not None
        try:
            self._on_failure(failed, error)
        except Exception as trace_error:  # the trace is best effort: the message is retried either way
            logger.warning(
                "could not record the failure on the connection",
                extra={"connection_id": failed.connection_id, "error": describe_error(trace_error)},
            )


def failed_message(record: Any) -> FailedMessage:
    """The facts of a failed record: a parsed message, or (one that failed to parse) the record as SQS sent it."""
    if isinstance(record, SqsMessage) and not isinstance(record.body, str | bytes):
        body = record.body
        hour = getattr(body, "hour", None) or getattr(body, "start", None)
        return FailedMessage(record.messageId, body.connection_id, hour_key(hour) if hour else None, parsed=True)
    raw = record.model_dump() if isinstance(record, SqsMessage) else record if isinstance(record, Mapping) else {}
    body_text = raw.get("body")
    fields = _json_fields(body_text if isinstance(body_text, str) else "")
    message_id = str(raw.get("messageId") or "unknown")
    return FailedMessage(message_id, fields.get("connection_id"), fields.get("hour") or fields.get("start"), False)


def _json_fields(body: str) -> dict[str, str]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {
        key: value[:_MAX_FIELD]
        for key in ("connection_id", "hour", "start")
        if isinstance(value := document.get(key), str) and value
    }
