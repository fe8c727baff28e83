"""The CDK app: CarbonMeter's own stack and the role stack customers deploy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import App

from infra.constants import CUSTOMER_ROLE_STACK_NAME, REPO_ROOT, STACK_NAME
from infra.customer_role import CarbonMeterCustomerRoleStack
from infra.encryption import stack_environment
from infra.stack import CarbonMeterStack


@dataclass(frozen=True)
class CarbonMeterApp:
    app: App
    stack: CarbonMeterStack
    customer_role_stack: CarbonMeterCustomerRoleStack


def build_app(app: App) -> CarbonMeterApp:
    return CarbonMeterApp(
        app=app,
        stack=CarbonMeterStack(app, STACK_NAME, env=stack_environment(app)),
        customer_role_stack=CarbonMeterCustomerRoleStack(app, CUSTOMER_ROLE_STACK_NAME),
    )


def cdk_json_context() -> dict[str, Any]:
    """The feature flags of cdk.json, which `cdk synth` applies, for apps built outside the CDK CLI."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context
