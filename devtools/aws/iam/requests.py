"""What IAM authorizes for one botocore call: its action(s) and the resource(s) they act on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_DATA = Path(__file__).parent / "data" / "operation-actions.json"
# A call whose action supports no resource-level permissions is authorized against "*".
ANY_RESOURCE = "*"


@dataclass(frozen=True)
class Access:
    """One (action, resource) pair a call needs."""

    action: str
    resource: str


@cache
def _names() -> Mapping[str, Any]:
    data: Mapping[str, Any] = json.loads(_DATA.read_text())
    return data


def iam_action(endpoint_prefix: str, operation: str) -> str:
    """The IAM action of an API call, e.g. ``monitoring``/``GetMetricData`` -> ``cloudwatch:GetMetricData``."""
    names = _names()
    action = f"{names['iam_prefix_of_endpoint'].get(endpoint_prefix, endpoint_prefix)}:{operation}"
    return str(names["iam_action_of_operation"].get(action, action))


def needs_permission(action: str) -> bool:
    return action not in _names()["needs_no_permission"]


def required_access(
    endpoint_prefix: str, operation: str, params: Mapping[str, Any], region: str, account_id: str
) -> list[Access]:
    """Every (action, resource) the call needs; empty for a call that needs no permission."""
    action = iam_action(endpoint_prefix, operation)
    if not needs_permission(action):
        return []
    template = _names()["resource_of_operation"].get(f"{endpoint_prefix}:{operation}")
    if template is not None:
        return [Access(action, template.format(region=region, account_id=account_id, **params))]
    service = action.split(":", 1)[0]
    resources = _RESOURCES.get(service, _any)(params, region, account_id)
    return [Access(action, resource) for resource in dict.fromkeys(resources)] or [Access(action, ANY_RESOURCE)]


def _any(params: Mapping[str, Any], region: str, account_id: str) -> Iterator[str]:
    yield ANY_RESOURCE


def _dynamodb(params: Mapping[str, Any], region: str, account_id: str) -> Iterator[str]:
    def table(name: str, index: str | None = None) -> str:
        arn = f"arn:aws:dynamodb:{region}:{account_id}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    if "TableName" in params:
        yield table(params["TableName"], params.get("IndexName"))
    yield from (table(name) for name in params.get("RequestItems", {}))
    for item in params.get("TransactItems", []):
        yield from (table(operation["TableName"]) for operation in item.values())


def _sqs(params: Mapping[str, Any], region: str, account_id: str) -> Iterator[str]:
    if "QueueUrl" in params:
        owner, name = urlsplit(params["QueueUrl"]).path.strip("/").split("/")[-2:]
        yield f"arn:aws:sqs:{region}:{owner}:{name}"
    elif "QueueName" in params:
        yield f"arn:aws:sqs:{region}:{params.get('QueueOwnerAWSAccountId', account_id)}:{params['QueueName']}"


def _sts(params: Mapping[str, Any], region: str, account_id: str) -> Iterator[str]:
    if "RoleArn" in params:
        yield params["RoleArn"]


def _secretsmanager(params: Mapping[str, Any], region: str, account_id: str) -> Iterator[str]:
    secret = params.get("SecretId")
    if secret:
        # A secret's ARN ends in six random characters that a name does not carry.
        yield (
            secret
            if secret.startswith("arn:")
            else f"arn:aws:secretsmanager:{region}:{account_id}:secret:{secret}-AbCdEf"
        )


def _kms(params: Mapping[str, Any], region: str, account_id: str) -> Iterator[str]:
    key = params.get("KeyId")
    if key:
        yield key if key.startswith("arn:") else f"arn:aws:kms:{region}:{account_id}:key/{key}"


def _sns(params: Mapping[str, Any], region: str, account_id: str) -> Iterator[str]:
    topic = params.get("TopicArn") or params.get("TargetArn")
    if topic:
        yield topic


_RESOURCES: Mapping[str, Callable[[Mapping[str, Any], str, str], Iterator[str]]] = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "sts": _sts,
    "secretsmanager": _secretsmanager,
    "kms": _kms,
    "sns": _sns,
}


def access_denied_code(action: str) -> str:
    """The error code a service answers a refused call with."""
    codes: Mapping[str, str] = _names()["access_denied_code"]
    return codes.get(action.split(":", 1)[0], codes["default"])
