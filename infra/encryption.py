"""Encryption at rest: AWS managed keys by default, or one customer managed KMS key when asked for by context."""

from __future__ import annotations

import os
from collections.abc import Mapping

from aws_cdk import Environment
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.constants import CUSTOMER_MANAGED_KEY_CONTEXT_KEY

_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


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
    """The one key of the stack's tables, queues and alarm topic, or None for AWS managed keys."""
    if not customer_managed_key_requested(scope.node.try_get_context(CUSTOMER_MANAGED_KEY_CONTEXT_KEY)):
        return None
    return kms.Key(
        scope,
        "DataKey",
        description="CarbonMeter tables, queues and alarm topic",
        enable_key_rotation=True,
    )
