"""CarbonMeterCustomerRoleStack: what a customer deploys so that CarbonMeter can read their account."""

from __future__ import annotations

from fnmatch import fnmatchcase

from aws_cdk.assertions import Template
from aws_cdk.cx_api import CloudAssembly

from carbonmeter.services import READ_ACTIONS
from devtools.aws.iam.policy import Policy
from infra.application import CarbonMeterApp
from infra.constants import COLLECTOR_ROLE_NAME, CUSTOMER_ROLE_NAME
from infra.customer_role import ACCOUNT_PARAMETER, EXTERNAL_ID_PARAMETER, collector_role_arn
from infra.customer_template import customer_template as export_customer_template
from infra.stack import customer_role_arn_pattern
from tests.support.templates import logical_id


def _role(customer_template: Template) -> dict:
    (role,) = customer_template.find_resources("AWS::IAM::Role").values()
    return role["Properties"]


def test_role_trusts_only_the_collector_role_presenting_the_external_id(customer_template: Template) -> None:
    (statement,) = _role(customer_template)["AssumeRolePolicyDocument"]["Statement"]

    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    # One role of CarbonMeter's account, not the account (`:root`), which would let any of its roles in.
    assert statement["Principal"] == {
        "AWS": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::",
                    {"Ref": ACCOUNT_PARAMETER},
                    f":role/{COLLECTOR_ROLE_NAME}",
                ],
            ]
        }
    }
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": EXTERNAL_ID_PARAMETER}}}


def test_trusted_principal_is_the_collector_functions_role(template: Template) -> None:
    # Given the role the collector function runs with in CarbonMeter's stack
    roles = template.find_resources("AWS::IAM::Role")
    functions = template.find_resources("AWS::Lambda::Function")
    collector = functions[logical_id(functions, "CollectorFunction")]["Properties"]
    (role_id,) = [name for name in roles if collector["Role"] == {"Fn::GetAtt": [name, "Arn"]}]

    # Then its fixed name is the one the customer stack trusts, and no other function role has a fixed name
    assert roles[role_id]["Properties"]["RoleName"] == COLLECTOR_ROLE_NAME
    assert [name for name, role in roles.items() if "RoleName" in role["Properties"]] == [role_id]
    assert collector_role_arn("111111111111", partition="aws") == "arn:aws:iam::111111111111:role/carbonmeter-collector"


def test_collector_role_is_outside_what_the_collector_may_assume() -> None:
    # A role of ours matching the collector's sts:AssumeRole pattern would be one more role it could try.
    own_role = collector_role_arn("111111111111", partition="aws")

    assert not fnmatchcase(own_role, customer_role_arn_pattern(partition="aws"))


def test_external_id_is_a_secret_parameter(customer_template: Template) -> None:
    parameters = customer_template.find_parameters("*")

    assert parameters[EXTERNAL_ID_PARAMETER]["NoEcho"] is True
    assert parameters[ACCOUNT_PARAMETER]["AllowedPattern"] == r"^\d{12}$"


def test_role_allows_exactly_the_actions_the_collectors_call(customer_template: Template) -> None:
    role = _role(customer_template)
    (policy,) = role["Policies"]
    statements = policy["PolicyDocument"]["Statement"]

    assert {statement["Effect"] for statement in statements} == {"Allow"}
    actions = [action for statement in statements for action in _as_list(statement["Action"])]
    assert sorted(actions) == sorted(READ_ACTIONS)
    assert "ManagedPolicyArns" not in role
    assert customer_template.find_resources("AWS::IAM::Policy") == {}


def test_api_gateway_may_read_its_api_and_stage_listings_and_nothing_else(customer_template: Template) -> None:
    # Given the role's policy as IAM evaluates it
    (policy,) = _role(customer_template)["Policies"]
    read = Policy.of([policy["PolicyDocument"]])

    def allowed(path: str) -> bool:
        return read.allows("apigateway:GET", f"arn:aws:apigateway:eu-west-1::{path}")

    # Then the collector's three listings are allowed, in any region
    assert all(allowed(path) for path in ("/restapis", "/restapis/a1b2c3/stages", "/apis"))
    assert read.allows("apigateway:GET", "arn:aws-cn:apigateway:cn-north-1::/apis")
    # and API keys (GET returns their values), exports, authorizers and one stage's own path are not
    refused = ("/apikeys", "/apikeys/k1", "/restapis/a1b2c3/stages/prod/exports/oas30", "/restapis/a1b2c3/authorizers")
    assert not any(allowed(path) for path in refused)
    # while every other read action stays on every resource
    assert read.allows("ec2:DescribeInstances", "*")


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_collector_is_allowed_to_assume_the_customer_role(customer_template: Template) -> None:
    # Given the customer's role in some account of the commercial partition
    role_name = _role(customer_template)["RoleName"]
    role_arn = f"arn:aws:iam::123456789012:role/{role_name}"

    # Then it is inside what the collector may assume
    assert role_name == CUSTOMER_ROLE_NAME
    assert fnmatchcase(role_arn, customer_role_arn_pattern(partition="aws"))
    assert not fnmatchcase("arn:aws:iam::123456789012:role/Admin", customer_role_arn_pattern(partition="aws"))


def test_stack_deploys_without_cdk_bootstrap(cdk_app: CarbonMeterApp, assembly: CloudAssembly) -> None:
    artifact = assembly.get_stack_artifact(cdk_app.customer_role_stack.artifact_id)

    assert artifact.assets == []
    assert "BootstrapVersion" not in artifact.template.get("Parameters", {})
    assert artifact.stack_template_asset_object_url is None


def test_plain_cloudformation_template_is_the_stack_template(customer_template: Template) -> None:
    # Customers without the CDK deploy the exported file; it must not drift from the stack.
    assert export_customer_template() == customer_template.to_json()
