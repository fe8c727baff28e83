"""CarbonMeterCustomerRoleStack: the read-only role a customer deploys in the account to be measured."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, BootstraplessSynthesizer, CfnOutput, CfnParameter, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from carbonmeter.aws import allow_statements
from carbonmeter.services import READ_ACTIONS, READ_RESOURCES
from infra.constants import COLLECTOR_ROLE_NAME, CUSTOMER_ROLE_MAX_SESSION, CUSTOMER_ROLE_NAME
from infra.nag import acknowledge

ACCOUNT_PARAMETER = "CarbonMeterAccountId"
EXTERNAL_ID_PARAMETER = "ExternalId"
READ_POLICY_NAME = "CarbonMeterRead"


def collector_role_arn(account_id: str, partition: str = Aws.PARTITION) -> str:
    """The collector's role in CarbonMeter's account: the one principal the customer role trusts."""
    return f"arn:{partition}:iam::{account_id}:role/{COLLECTOR_ROLE_NAME}"


class CarbonMeterCustomerRoleStack(Stack):
    """Self-contained: no assets and no CDK bootstrap, so it also works as a plain CloudFormation template."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Read-only role that lets CarbonMeter measure this account's resources",
            synthesizer=BootstraplessSynthesizer(),
            analytics_reporting=False,
            **kwargs,
        )
        account_id = CfnParameter(
            self,
            ACCOUNT_PARAMETER,
            description=f"The AWS account that runs CarbonMeter; its role {COLLECTOR_ROLE_NAME} may assume this one",
            allowed_pattern=r"^\d{12}$",
            constraint_description="a 12-digit AWS account id",
        )
        external_id = CfnParameter(
            self,
            EXTERNAL_ID_PARAMETER,
            description="The ExternalId CarbonMeter gave you for this account",
            no_echo=True,
            min_length=2,
            max_length=1224,
            allowed_pattern=r"^[\w+=,.@:/-]+$",
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=CUSTOMER_ROLE_NAME,
            description="CarbonMeter reads resource inventories and CloudWatch metrics",
            # The collector's role alone, not CarbonMeter's whole account: no other role or user there can
            # assume this one, whatever their own policies allow. IAM checks that the role exists when this
            # stack is deployed, so CarbonMeterStack comes first.
            assumed_by=iam.ArnPrincipal(collector_role_arn(account_id.value_as_string)),
            external_ids=[external_id.value_as_string],
            max_session_duration=CUSTOMER_ROLE_MAX_SESSION,
            inline_policies={
                READ_POLICY_NAME: iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement.from_json(statement)
                        for statement in allow_statements(READ_ACTIONS, READ_RESOURCES)
                    ]
                )
            },
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Describe/List and GetMetricData calls span every resource of the account and most of them "
            "support no resource-level permissions; the policy allows only read actions.",
        )
        for resource in sorted({pattern for patterns in READ_RESOURCES.values() for pattern in patterns}):
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{resource}]",
                "A read action limited to the listings the collectors read, in every region and partition.",
            )
        for action in (action for action in READ_ACTIONS if "*" in action):
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Action::{action}]",
                "A read-only action family the collectors call.",
            )
        CfnOutput(self, "RoleArn", value=self.role.role_arn, description="Give this ARN to CarbonMeter")
