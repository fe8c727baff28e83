"""The IAM policies of the deployed functions and of the customer role, read from the synthesized stacks.

The local pipeline runs each function under exactly the policy ``cdk synth`` gives its role, with every
``Ref``/``Fn::GetAtt`` resolved to the local tables and queues, so a grant missing from the template fails
locally as it would in AWS.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from carbonmeter.settings import ENV_PREFIX, Settings
from devtools.aws.iam.intrinsics import Bindings, resolve
from devtools.aws.iam.policy import Policy

Template = dict[str, Any]
# How the stack tells its functions apart: Powertools' service name, `carbonmeter-<function>`.
_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
_TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
# The customer stack's parameter that names CarbonMeter's account carries this pattern.
ACCOUNT_ID_PATTERN = r"^\d{12}$"


@dataclass(frozen=True)
class SynthesizedTemplates:
    stack: Template
    customer_role_stack: Template


@cache
def synthesized_templates() -> SynthesizedTemplates:
    """Both stacks as `cdk synth` builds them (asset bundling skipped: it does not change a policy)."""
    from aws_cdk import App

    from infra.application import build_app, cdk_json_context

    outdir = Path(tempfile.mkdtemp(prefix="carbonmeter-synth-"))
    try:
        app = App(outdir=str(outdir), context=cdk_json_context() | {"aws:cdk:bundling-stacks": []})
        built = build_app(app)
        assembly = app.synth()
        return SynthesizedTemplates(
            stack=assembly.get_stack_by_name(built.stack.stack_name).template,
            customer_role_stack=assembly.get_stack_by_name(built.customer_role_stack.stack_name).template,
        )
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


@dataclass(frozen=True)
class FunctionRole:
    """One function's execution role: its ARN (what trust policies see) and its identity policy."""

    function: str
    role_arn: str
    policy: Policy


@dataclass(frozen=True)
class CustomerRole:
    """The role of the customer stack: its name, its identity policy and its trust policy."""

    role_name: str
    policy: Policy
    trust_document: Mapping[str, Any]
    bindings: Bindings
    external_id_parameters: tuple[str, ...]

    def trust(self, external_id: str | None) -> Policy:
        """The trust policy as deployed by a customer who was given ``external_id``.

        Locally every connection's role is this one stack, deployed with the ExternalId its connection
        presents: the check holds the caller to the trust's principal and to presenting an ExternalId,
        while tests/infra hold the condition itself.
        """
        refs = dict(self.bindings.refs)
        if external_id is not None:
            refs.update(dict.fromkeys(self.external_id_parameters, external_id))
        return Policy.of([resolve(self.trust_document, replace(self.bindings, refs=refs))])


@dataclass(frozen=True)
class DeployedPolicies:
    functions: Mapping[str, FunctionRole]
    customer_role: CustomerRole

    @classmethod
    def of(cls, templates: SynthesizedTemplates, settings: Settings, account_id: str) -> DeployedPolicies:
        """The policies with every reference resolved to the local resources that ``settings`` names."""
        stack = templates.stack
        bindings = _stack_bindings(stack, settings, account_id)
        functions = {
            name: FunctionRole(
                name, bindings.get_att(role_id, "Arn"), Policy.of(_role_documents(stack, role_id, bindings))
            )
            for name, role_id in _function_roles(stack)
        }
        return cls(
            functions=functions, customer_role=_customer_role(templates.customer_role_stack, settings, account_id)
        )

    def without(self, function: str, action: str) -> DeployedPolicies:
        """These policies with ``action`` taken from ``function``'s role, as if the stack lacked that grant."""
        role = self.functions[function]
        return replace(self, functions={**self.functions, function: replace(role, policy=_drop(role.policy, action))})

    def without_customer_grant(self, action: str) -> DeployedPolicies:
        """These policies with ``action`` taken from the customer role's policy."""
        return replace(self, customer_role=replace(self.customer_role, policy=_drop(self.customer_role.policy, action)))


def _drop(policy: Policy, action: str) -> Policy:
    return Policy(
        tuple(
            replace(statement, actions=tuple(a for a in statement.actions if a.lower() != action.lower()))
            for statement in policy.statements
        )
    )


def _function_roles(stack: Template) -> Iterator[tuple[str, str]]:
    for resource in _resources(stack, "AWS::Lambda::Function"):
        properties = resource["Properties"]
        service = properties.get("Environment", {}).get("Variables", {}).get(_SERVICE_NAME)
        if service is None:  # the CDK's own handler (the web page's BucketDeployment) runs only while deploying
            continue
        role_id = properties["Role"]["Fn::GetAtt"][0]
        yield service.split("-", 1)[1], role_id


def _role_documents(stack: Template, role_id: str, bindings: Bindings) -> list[dict[str, Any]]:
    """The role's inline policies and every AWS::IAM::Policy attached to it."""
    role = stack["Resources"][role_id]["Properties"]
    if role.get("ManagedPolicyArns"):
        raise ValueError(f"{role_id} has managed policies, which the local check cannot read")
    documents = [policy["PolicyDocument"] for policy in role.get("Policies", [])]
    documents += [
        policy["Properties"]["PolicyDocument"]
        for policy in _resources(stack, "AWS::IAM::Policy")
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]
    return [resolve(document, bindings) for document in documents]


def _resources(template: Template, resource_type: str) -> Iterator[dict[str, Any]]:
    return (r for r in template["Resources"].values() if r["Type"] == resource_type)


def _stack_bindings(stack: Template, settings: Settings, account_id: str) -> Bindings:
    """Each table and queue the functions are told about (by environment variable) is the local one."""
    region = settings.region
    refs: dict[str, str] = {}
    attributes: dict[tuple[str, str], str] = {}
    for logical_id, field in _settings_references(stack):
        value = str(getattr(settings, field))
        refs[logical_id] = value
        resource_type = stack["Resources"][logical_id]["Type"]
        if resource_type in _TABLE_TYPES:
            attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{region}:{account_id}:table/{value}"
        elif resource_type == "AWS::SQS::Queue":
            name = value.rstrip("/").rsplit("/", 1)[-1]
            attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{region}:{account_id}:{name}"
            attributes[(logical_id, "QueueName")] = name
    for logical_id, resource in stack["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            name = resource["Properties"].get("RoleName", logical_id)
            attributes[(logical_id, "Arn")] = f"arn:aws:iam::{account_id}:role/{name}"
    return Bindings(partition="aws", region=region, account_id=account_id, refs=refs, attributes=attributes)


def _settings_references(stack: Template) -> Iterator[tuple[str, str]]:
    """(logical id, Settings field) for every function environment variable that is a ``Ref``."""
    seen: set[str] = set()
    for resource in _resources(stack, "AWS::Lambda::Function"):
        for name, value in resource["Properties"]["Environment"]["Variables"].items():
            if name.startswith(ENV_PREFIX) and isinstance(value, dict) and "Ref" in value and value["Ref"] not in seen:
                seen.add(value["Ref"])
                yield value["Ref"], name.removeprefix(ENV_PREFIX).lower()


def _customer_role(template: Template, settings: Settings, account_id: str) -> CustomerRole:
    (role,) = _resources(template, "AWS::IAM::Role")
    properties = role["Properties"]
    parameters = template.get("Parameters", {})
    # The customer deploys the stack naming CarbonMeter's account; locally both accounts are the embedded one.
    accounts = [name for name, p in parameters.items() if p.get("AllowedPattern") == ACCOUNT_ID_PATTERN]
    bindings = Bindings("aws", settings.region, account_id, refs=dict.fromkeys(accounts, account_id), attributes={})
    policies = [resolve(policy["PolicyDocument"], bindings) for policy in properties.get("Policies", [])]
    return CustomerRole(
        role_name=properties["RoleName"],
        policy=Policy.of(policies),
        trust_document=properties["AssumeRolePolicyDocument"],
        bindings=bindings,
        external_id_parameters=tuple(name for name in parameters if name not in accounts),
    )
