"""SQS batches whose failed messages each leave one ERROR line, and a trace where they name a connection.

Powertools' BatchProcessor reports a failed record to SQS for a retry and logs it at DEBUG only; operators
filter on ERROR (docs/operations.md), so a failure that left no ERROR line would be invisible until the
message reached its dead-letter queue.

Importing Powertools' batch utility costs a cold start about as much as boto3 (it brings its parser's models when
pydantic is loaded; docs/benchmarks.md): kept, since reporting partial batch failures is Powertools' job, not ours.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import FailureResponse
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo

from carbonmeter.errors import describe_error
from carbonmeter.models import hour_key

logger = logging.getLogger(__name__)
# What a log line keeps of a value read from an unparsed message: enough to find it, too little to flood.
_MAX_FIELD = 100


@dataclass(frozen=True)
class FailedMessage:
    """What can be read of a message that failed: always its id, its connection and hour when parseable."""

    message_id: str
    connection_id: str | None
    hour: str | None
    parsed: bool


OnFailure = Callable[[FailedMessage, BaseException], None]


class LoggedBatchProcessor(BatchProcessor):
    """A BatchProcessor that logs each failed record at ERROR and hands it to ``on_failure``."""

    def __init__(self, model: Any, on_failure: OnFailure | None = None) -> None:
        super().__init__(event_type=EventType.SQS, model=model)
        self._on_failure = on_failure

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        error = exception[1] or RuntimeError("unknown failure")
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
        return super().failure_handler(record, exception)

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
    """The facts of a failed record: a parsed model, or (for a message that failed to parse) an SQSRecord."""
    body = getattr(record, "body", None)
    message_id = str(getattr(record, "messageId", None) or getattr(record, "message_id", "unknown"))
    if body is not None and not isinstance(body, str):
        hour = getattr(body, "hour", None) or getattr(body, "start", None)
        # A schedule page names many connections, so none.
        connection_id = getattr(body, "connection_id", None)
        return FailedMessage(message_id, connection_id, hour_key(hour) if hour else None, parsed=True)
    fields = _json_fields(body or "")
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
