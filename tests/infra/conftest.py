"""Two synthesized CarbonMeter apps per test session (synth spawns node and bundles the layer, so it is slow):
the default one, and one with ``-c customerManagedKey=true``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from aws_cdk.cx_api import CloudAssembly

from infra.application import CarbonMeterApp, build_app
from infra.constants import ALARM_EMAIL_CONTEXT_KEY, CUSTOMER_MANAGED_KEY_CONTEXT_KEY, REPO_ROOT

ALARM_EMAIL = "ops@example.com"
# What the CDK CLI sets from the deploying profile; a customer managed key pins the stack to it.
DEPLOY_REGION = "eu-west-1"


def _cli_context(**extra: Any) -> dict[str, Any]:
    """The same feature flags `cdk synth` uses, plus what the CLI would add."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context | {"aws:cdk:enable-asset-metadata": True, ALARM_EMAIL_CONTEXT_KEY: ALARM_EMAIL} | extra


@pytest.fixture(scope="session")
def cdk_app(tmp_path_factory: pytest.TempPathFactory) -> CarbonMeterApp:
    app = App(context=_cli_context(), outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return build_app(app)


@pytest.fixture(scope="session")
def cmk_app(tmp_path_factory: pytest.TempPathFactory) -> CarbonMeterApp:
    """The app as `cdk synth -c customerManagedKey=true` builds it (context values from -c are strings)."""
    app = App(
        context=_cli_context(**{CUSTOMER_MANAGED_KEY_CONTEXT_KEY: "true"}),
        outdir=str(tmp_path_factory.mktemp("cdk.out.cmk")),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDK_DEFAULT_REGION", DEPLOY_REGION)
        return build_app(app)


@pytest.fixture(scope="session")
def assembly(cdk_app: CarbonMeterApp) -> CloudAssembly:
    return cdk_app.app.synth()


@pytest.fixture(scope="session")
def template(cdk_app: CarbonMeterApp, assembly: CloudAssembly) -> Template:
    return Template.from_stack(cdk_app.stack)


@pytest.fixture(scope="session")
def customer_template(cdk_app: CarbonMeterApp, assembly: CloudAssembly) -> Template:
    return Template.from_stack(cdk_app.customer_role_stack)


@pytest.fixture(scope="session")
def cmk_template(cmk_app: CarbonMeterApp) -> Template:
    cmk_app.app.synth()
    return Template.from_stack(cmk_app.stack)


@pytest.fixture(scope="session")
def layer_dir(template: Template, assembly: CloudAssembly) -> Path:
    """The bundled layer as it will be uploaded, found through the layer's asset metadata."""
    (layer,) = template.find_resources("AWS::Lambda::LayerVersion").values()
    return Path(assembly.directory) / layer["Metadata"]["aws:asset:path"]


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
