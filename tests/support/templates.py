"""Reading the synthesized CloudFormation templates: logical ids, IAM statements, and the context the apps are
synthesized with (``tests/infra/conftest.py`` builds them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk.assertions import Template

from infra.constants import ALARM_EMAIL_CONTEXT_KEY, REPO_ROOT, WEB_ASSETS_CONTEXT_KEY

ALARM_EMAIL = "ops@example.com"
# What the CDK CLI sets from the deploying profile; a customer managed key pins the stack to it.
DEPLOY_REGION = "eu-west-1"
# A stand-in page (a web page is whatever the stack is given to deploy), so that the infra tests need no assembled
# page from `make web-assets`.
WEB_PAGE_FIXTURE = REPO_ROOT / "tests" / "infra" / "fixtures" / "web"


def cli_context(**extra: Any) -> dict[str, Any]:
    """The same feature flags `cdk synth` uses, plus what the CLI would add."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return (
        context
        | {
            "aws:cdk:enable-asset-metadata": True,
            ALARM_EMAIL_CONTEXT_KEY: ALARM_EMAIL,
            WEB_ASSETS_CONTEXT_KEY: str(WEB_PAGE_FIXTURE.relative_to(REPO_ROOT)),
        }
        | extra
    )


def logical_id(resources: Mapping[str, Any], prefix: str) -> str:
    """The one logical id in ``resources`` that starts with ``prefix`` (CDK appends a hash)."""
    (match,) = [name for name in resources if name.startswith(prefix)]
    return match


def role_statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    """Every policy statement attached to the role whose logical id starts with ``role_prefix``."""
    role_id = logical_id(template.find_resources("AWS::IAM::Role"), role_prefix)
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def resources_of(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def carbonmeter_functions(template: Template) -> dict[str, dict[str, Any]]:
    """CarbonMeter's own functions (by logical id), each built by infra/function.py with its Powertools service
    name; the CDK's deploy-time handler (the web page's BucketDeployment) is not one of them."""
    return {
        name: function
        for name, function in template.find_resources("AWS::Lambda::Function").items()
        if "POWERTOOLS_SERVICE_NAME" in function["Properties"].get("Environment", {}).get("Variables", {})
    }
