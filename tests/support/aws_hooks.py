"""Botocore hooks (``ClientFactory(hooks=...)``) that make the embedded AWS refuse as the real one does."""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse

from carbonmeter.aws import EventHook


def refuse_when(event: str, body_contains: str, code: str, message: str, status: int) -> EventHook:
    """A hook answering ``code`` to every ``event`` call (``before-call.<service>.<Operation>``) whose body holds
    ``body_contains``, as the service would; the caller's client raises ClientError, retried as botocore retries it.
    """

    def refuse(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if body_contains not in str(params.get("body", "")):
            return None
        return AWSResponse("https://aws.invalid/", status, {}, None), {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    return (event, refuse)


def refuse_batch_writes_to(table: str, code: str, message: str, status: int) -> EventHook:
    """A hook answering ``code`` to every BatchWriteItem writing to ``table``, by the request's own table names.

    Not by the body's text: a usage record may name the table too (DynamoDB meters CarbonMeter's own tables when
    they are in the account a connection reads).
    """
    refuse = refuse_when("before-call.dynamodb.BatchWriteItem", "", code, message, status)[1]

    def refuse_for_table(
        model: Any, params: dict[str, Any], **kwargs: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        if table not in json.loads(params.get("body") or "{}").get("RequestItems", {}):
            return None
        return refuse(model, params, **kwargs)

    return ("before-call.dynamodb.BatchWriteItem", refuse_for_table)


def deny_assume_role(role_name_part: str) -> EventHook:
    """STS refusing AssumeRole for matching roles, as for a wrong ExternalId."""
    message = "User is not authorized to perform: sts:AssumeRole"
    return refuse_when("before-call.sts.AssumeRole", role_name_part, "AccessDenied", message, 403)
