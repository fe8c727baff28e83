"""Encryption at rest: AWS managed keys by default, or one customer managed KMS key when asked for by context."""

from __future__ import annotations

import os
from collections.abc import Mapping

from aws_cdk import ArnFormat, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.constants import CUSTOMER_MANAGED_KEY_CONTEXT_KEY

_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}
# What CloudWatch Logs documents it needs on a key that encrypts log groups.
_LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")


def customer_managed_key_requested(value: object) -> bool:
    """Read the ``customerManagedKey`` context value: booleans from cdk.json, strings from ``-c``.

    Anything unrecognised fails the synth: a mistyped flag must not quietly deploy the other mode.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"context {CUSTOMER_MANAGED_KEY_CONTEXT_KEY}={value!r}: expected true or false")


def stack_environment(scope: Construct, environ: Mapping[str, str] | None = None) -> Environment | None:
    """Region-agnostic by default. With a customer managed key, the stack is pinned to the deploy region.

    DynamoDB names each replica's key by region, so the CDK cannot render a customer managed key in a
    region-agnostic stack. The CDK CLI always sets ``CDK_DEFAULT_REGION`` (from ``AWS_REGION`` or the profile).
    """
    if not customer_managed_key_requested(scope.node.try_get_context(CUSTOMER_MANAGED_KEY_CONTEXT_KEY)):
        return None
    region = (os.environ if environ is None else environ).get("CDK_DEFAULT_REGION")
    if not region:
        raise ValueError(
            f"context {CUSTOMER_MANAGED_KEY_CONTEXT_KEY}=true needs the target region: run through the CDK CLI "
            "or set CDK_DEFAULT_REGION"
        )
    return Environment(region=region)


def data_key(scope: Construct) -> kms.Key | None:
    """The one key of the stack's tables, queues, alarm topic and log groups, or None for AWS managed keys."""
    if not customer_managed_key_requested(scope.node.try_get_context(CUSTOMER_MANAGED_KEY_CONTEXT_KEY)):
        return None
    key = kms.Key(
        scope,
        "DataKey",
        description="CarbonMeter tables, queues, alarm topic and log groups",
        enable_key_rotation=True,
    )
    _allow_cloudwatch_logs(key)
    return key


def _allow_cloudwatch_logs(key: kms.Key) -> None:
    """CloudWatch Logs encrypts a log group under its own service principal, which the key policy must allow,
    else creating the log group fails.

    The condition limits it to log groups of this account and region. Naming the functions' log groups instead
    is not possible: each log group refers to the key, so the key policy cannot refer back to them.
    """
    stack = Stack.of(key)
    log_groups = stack.format_arn(
        service="logs", resource="log-group", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=list(_LOGS_KEY_ACTIONS),
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )
