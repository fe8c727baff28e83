"""Security properties of both stacks: no long-lived credential, no secret in configuration or outputs,
everything at rest encrypted with AWS managed keys or, on request, with one customer managed key."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from infra.constants import CUSTOMER_MANAGED_KEY_CONTEXT_KEY, REPO_ROOT, STALE_AFTER_HOURS
from infra.customer_role import EXTERNAL_ID_PARAMETER
from infra.encryption import customer_managed_key_requested, stack_environment
from infra.tables import grant_reads
from tests.support.templates import (
    DEPLOY_REGION,
    actions_of,
    carbonmeter_functions,
    logical_id,
    resources_of,
    role_statements,
)

SECURITY_DOC = REPO_ROOT / "docs" / "security.md"
# What Checkov reported on the synthesized templates; docs/security.md answers each one.
CHECKOV_FINDINGS = ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_158")

CREDENTIAL_RESOURCES = {
    "AWS::IAM::User",
    "AWS::IAM::AccessKey",
    "AWS::IAM::UserToGroupAddition",
    "AWS::SecretsManager::Secret",
    "AWS::SSM::Parameter",
}
ACCESS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
# The only literal environment values; every other variable names a resource of the stack.
LITERAL_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "CARBONMETER_STALE_AFTER_HOURS",
    "CARBONMETER_METRIC_DATA_REQUESTS_PER_SECOND",
}
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "EXTERNAL", "ACCESS_KEY", "CREDENTIAL")


def _references(value: Any) -> list[str]:
    """The logical ids (or parameters) of every Ref and GetAtt inside a template fragment."""
    if isinstance(value, dict):
        found = [value["Ref"]] if "Ref" in value else []
        found += [value["Fn::GetAtt"][0]] if "Fn::GetAtt" in value else []
        return found + [ref for child in value.values() for ref in _references(child)]
    if isinstance(value, list):
        return [ref for child in value for ref in _references(child)]
    return []


@pytest.mark.parametrize("stack", ["template", "customer_template", "cmk_template"])
def test_no_long_lived_credential_or_stored_secret(request: pytest.FixtureRequest, stack: str) -> None:
    template: Template = request.getfixturevalue(stack)
    resources = template.to_json()["Resources"]

    assert {resource["Type"] for resource in resources.values()} & CREDENTIAL_RESOURCES == set()
    assert not ACCESS_KEY_ID.search(json.dumps(template.to_json()))


@pytest.mark.parametrize("stack", ["template", "cmk_template"])
def test_function_environments_hold_references_and_plain_settings_only(
    request: pytest.FixtureRequest, stack: str
) -> None:
    template: Template = request.getfixturevalue(stack)
    resources = template.to_json()["Resources"]

    for name, function in carbonmeter_functions(template).items():
        variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
        literal = {key for key, value in variables.items() if isinstance(value, str)}

        assert literal <= LITERAL_VARIABLES, name
        assert not [key for key in variables if any(word in key for word in SECRET_WORDS)], name
        for key in variables.keys() - literal:
            (target,) = _references(variables[key])
            assert target in resources, f"{name}: {key} must name a resource of the stack"


def test_only_the_scheduler_is_told_when_a_connection_is_stale(template: Template) -> None:
    variables = {
        name.split("Function")[0]: function["Properties"]["Environment"]["Variables"]
        for name, function in template.find_resources("AWS::Lambda::Function").items()
    }

    assert variables["Scheduler"]["CARBONMETER_STALE_AFTER_HOURS"] == str(STALE_AFTER_HOURS)
    assert "CARBONMETER_STALE_AFTER_HOURS" not in variables["Collector"]


@pytest.mark.parametrize("stack", ["template", "customer_template", "cmk_template"])
def test_outputs_reveal_no_secret_parameter(request: pytest.FixtureRequest, stack: str) -> None:
    template: Template = request.getfixturevalue(stack)
    secret_parameters = {name for name, p in template.find_parameters("*").items() if p.get("NoEcho")}
    outputs = template.find_outputs("*")

    assert not set(_references(outputs)) & secret_parameters
    assert EXTERNAL_ID_PARAMETER not in json.dumps(outputs)


def test_external_id_is_used_only_in_the_trust_condition(customer_template: Template) -> None:
    template = customer_template.to_json()
    uses = [ref for ref in _references(template["Resources"]) if ref == EXTERNAL_ID_PARAMETER]
    (role,) = customer_template.find_resources("AWS::IAM::Role").values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert len(uses) == 1
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == {"Ref": EXTERNAL_ID_PARAMETER}


def test_by_default_data_is_encrypted_with_aws_managed_keys(template: Template) -> None:
    # Given no customerManagedKey context
    keys = template.find_resources("AWS::KMS::Key")
    tables = template.find_resources("AWS::DynamoDB::GlobalTable").values()
    queues = template.find_resources("AWS::SQS::Queue").values()

    # Then the only key is the alarm topic's own, which CloudWatch needs to publish
    assert [name for name in keys if name.startswith("AlertsTopicKey")] == list(keys)
    # DynamoDB's SSEType KMS without a replica key is the AWS managed key aws/dynamodb.
    assert all(table["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"} for table in tables)
    assert all("SSESpecification" not in table["Properties"]["Replicas"][0] for table in tables)
    assert all(queue["Properties"]["SqsManagedSseEnabled"] is True for queue in queues)


def test_by_default_log_groups_keep_cloudwatch_logs_encryption(template: Template) -> None:
    # CloudWatch Logs encrypts every log group at rest with keys of its own; KmsKeyId would name ours.
    log_groups = template.find_resources("AWS::Logs::LogGroup").values()

    # One per function, and the HTTP API's access logs
    assert len(log_groups) == len(template.find_resources("AWS::Lambda::Function")) + 1
    assert not [group for group in log_groups if "KmsKeyId" in group["Properties"]]


def test_customer_managed_key_encrypts_tables_queues_and_topic(cmk_template: Template) -> None:
    # Given `-c customerManagedKey=true`
    (key_id,) = cmk_template.find_resources("AWS::KMS::Key")
    key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
    tables = cmk_template.find_resources("AWS::DynamoDB::GlobalTable").values()
    queues = cmk_template.find_resources("AWS::SQS::Queue").values()
    topics = cmk_template.find_resources("AWS::SNS::Topic").values()

    # Then one rotating key encrypts every table, queue and the alarm topic
    cmk_template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    assert len(tables) == 4  # connections, usage, emissions, the page claims
    for table in tables:
        properties = table["Properties"]
        assert properties["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
        (replica,) = properties["Replicas"]
        assert replica["Region"] == DEPLOY_REGION
        assert replica["SSESpecification"] == {"KMSMasterKeyId": key_arn}
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert len(queues) == 7
    assert all(queue["Properties"]["KmsMasterKeyId"] == key_arn for queue in queues)
    assert len(topics) == 2  # the alarm topic and the anomaly topic
    assert all(topic["Properties"]["KmsMasterKeyId"] == key_arn for topic in topics)


def test_customer_managed_key_encrypts_every_function_log_group(cmk_template: Template) -> None:
    # Given `-c customerManagedKey=true`
    (key_id,) = cmk_template.find_resources("AWS::KMS::Key")
    log_groups = cmk_template.find_resources("AWS::Logs::LogGroup").values()
    functions = cmk_template.find_resources("AWS::Lambda::Function").values()

    # Then each function logs to a log group under the data key, and so does the HTTP API
    assert len(log_groups) == len(functions) + 1
    assert all(group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]} for group in log_groups)


def test_customer_managed_key_lets_cloudwatch_logs_encrypt_this_accounts_log_groups(cmk_template: Template) -> None:
    # Without this statement, creating a log group under the key fails and with it the deployment.
    (key,) = cmk_template.find_resources("AWS::KMS::Key").values()
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": f"logs.{DEPLOY_REGION}.amazonaws.com"}
    ]

    assert statement["Effect"] == "Allow"
    assert sorted(actions_of(statement)) == [
        "kms:Decrypt*",
        "kms:Describe*",
        "kms:Encrypt*",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    ]
    assert statement["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": {
                "Fn::Join": ["", [f"arn:aws:logs:{DEPLOY_REGION}:", {"Ref": "AWS::AccountId"}, ":log-group:*"]]
            }
        }
    }


def test_customer_managed_key_is_kept_and_usable_by_cloudwatch_alarms(cmk_template: Template) -> None:
    (key,) = cmk_template.find_resources("AWS::KMS::Key").values()

    # Deleting the stack must not make the retained tables unreadable.
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    cmk_template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize("role", ["SchedulerRole", "CollectorRole", "CalculatorRole"])
def test_functions_may_use_the_customer_managed_key_and_no_other(cmk_template: Template, role: str) -> None:
    key_id = logical_id(cmk_template.find_resources("AWS::KMS::Key"), "DataKey")
    kms_statements = [
        s for s in role_statements(cmk_template, role) if any(a.startswith("kms:") for a in actions_of(s))
    ]

    assert kms_statements
    assert all(resources_of(s) == [{"Fn::GetAtt": [key_id, "Arn"]}] for s in kms_statements)
    assert not any("kms:*" in actions_of(s) for s in kms_statements)


def test_scheduler_may_decrypt_the_tables_it_reads(cmk_template: Template) -> None:
    key_arn = {"Fn::GetAtt": [logical_id(cmk_template.find_resources("AWS::KMS::Key"), "DataKey"), "Arn"]}
    decrypt = [
        s
        for s in role_statements(cmk_template, "SchedulerRole")
        if "kms:Decrypt" in actions_of(s) and resources_of(s) == [key_arn]
    ]

    assert decrypt


def test_a_narrow_table_grant_brings_the_key_a_reader_needs() -> None:
    # Given a table under a customer managed key and a role granted one read action on it
    # (DynamoDB names a replica's key by region, so the stack needs one.)
    stack = Stack(App(), "Grant", env=Environment(region=DEPLOY_REGION))
    key = kms.Key(stack, "Key")
    table = dynamodb.TableV2(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
    )
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    # When
    grant_reads(table, role, "dynamodb:Query")

    # Then the role may run that action on the table and decrypt with its key, and nothing more
    template = Template.from_stack(stack)
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    granted = sorted(
        (sorted(actions_of(s)), resources_of(s)[0]["Fn::GetAtt"][0])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
    assert granted == [
        (["dynamodb:Query"], logical_id(template.find_resources("AWS::DynamoDB::GlobalTable"), "Table")),
        (["kms:Decrypt", "kms:DescribeKey"], logical_id(template.find_resources("AWS::KMS::Key"), "Key")),
    ]


def test_each_checkov_finding_is_answered_in_the_security_doc() -> None:
    text = SECURITY_DOC.read_text()
    (section,) = re.findall(r"^## Checkov findings\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)

    assert [finding for finding in CHECKOV_FINDINGS if f"`{finding}`" not in section] == []


@pytest.mark.parametrize(
    ("value", "requested"),
    [(None, False), (False, False), (True, True), ("true", True), ("True", True), ("false", False), ("1", True)],
)
def test_context_flag_reads_cdk_json_booleans_and_cli_strings(value: object, requested: bool) -> None:
    assert customer_managed_key_requested(value) is requested


def test_mistyped_context_flag_fails_the_synth() -> None:
    with pytest.raises(ValueError, match="customerManagedKey='ture'"):
        customer_managed_key_requested("ture")


def test_customer_managed_key_without_a_deploy_region_says_what_is_missing() -> None:
    app = App(context={CUSTOMER_MANAGED_KEY_CONTEXT_KEY: "true"})

    assert stack_environment(App(), environ={}) is None
    with pytest.raises(ValueError, match="needs the target region"):
        stack_environment(app, environ={})
    pinned = stack_environment(app, environ={"CDK_DEFAULT_REGION": DEPLOY_REGION})
    assert pinned is not None
    assert pinned.region == DEPLOY_REGION
