"""Lambda event and context shapes, as AWS delivers them, for running handlers locally."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    account_id: str = "000000000000"
    region: str = "us-east-1"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def scheduled_event(fired_at: datetime, rule_arn: str, account_id: str, region: str) -> dict[str, Any]:
    """The event an EventBridge schedule rule sends when it fires at ``fired_at``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": fired_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event an SQS event source mapping delivers for messages from ReceiveMessage."""
    return {"Records": [_sqs_record(message, queue_arn, region) for message in messages]}


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "AIDAEXAMPLE"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def http_api_event(
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    api_id: str = "local",
    stage: str = "$default",
    at: datetime | None = None,
) -> dict[str, Any]:
    """The event an API Gateway HTTP API (payload format 2.0) delivers for one request.

    ``claims``: what its JWT authorizer passes on from a valid token (None: no authorizer context, as for a
    request that never went through one). API Gateway passes an array claim (``cognito:groups``) as one string,
    ``"[acme beta]"``: give a list and it is flattened the same way.
    """
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    query = dict(query or {})
    request_headers = {"accept": "*/*", "host": f"{api_id}.execute-api.localhost", **(headers or {})}
    context: dict[str, Any] = {
        "accountId": "000000000000",
        "apiId": api_id,
        "domainName": request_headers["host"],
        "domainPrefix": api_id,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": ""},
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": stage,
        "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(moment.timestamp() * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": _authorizer_claims(claims), "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query),
        "headers": request_headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    return event


def _authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    # The authorizer passes every claim as a string; an array as its items in brackets, separated by spaces.
    return {
        name: f"[{' '.join(map(str, value))}]" if isinstance(value, (list, tuple)) else str(value)
        for name, value in claims.items()
    }
