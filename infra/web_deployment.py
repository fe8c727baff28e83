"""Deploying the assembled web page, and its ``config.json`` written with the stack's own values."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from aws_cdk import Aws, CfnElement, DefaultStackSynthesizer, Stack, Token
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IConstruct

from infra.constants import LOG_RETENTION, WEB_CONFIG_FILE, web_config
from infra.nag import acknowledge
from infra.web_assets import require_web_assets
from infra.web_distribution import cognito_origin

# What the CDK's BucketDeployment grants its handler, with wildcards cdk-nag reports (IAM5).
_DEPLOYMENT_ACTIONS = ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")
# The CDK's one function behind every BucketDeployment of a stack: a singleton named after this prefix.
_DEPLOYMENT_FUNCTION_PREFIX = "Custom::CDKBucketDeployment"


class WebDeployment(Construct):
    """Copies ``page_dir`` to the bucket on every deploy (removing what the page no longer has), with
    ``config.json`` (region, user pool id, client id, API base path), then invalidates the distribution's cache."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        page_dir: Path,
        bucket: s3.IBucket,
        distribution: cloudfront.IDistribution,
        user_pool: cognito.IUserPool,
        client: cognito.IUserPoolClient,
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, encryption_key=log_key)
        # A role of our own, as for every CarbonMeter function: the CDK's default carries AWSLambdaBasicExecutionRole,
        # whose log permissions cover every log group of the account.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="CarbonMeter web page deployment (the CDK's BucketDeployment handler)",
        )
        self.log_group.grant_write(self.role)
        config = web_config(
            region=Aws.REGION,
            user_pool_id=user_pool.user_pool_id,
            client_id=client.user_pool_client_id,
            cognito_endpoint=f"{cognito_origin()}/",
        )
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[
                # Hidden files are never part of the page (the assembly's stamp, `make web-assets`, among them).
                s3deploy.Source.asset(str(require_web_assets(page_dir)), exclude=[".*"]),
                s3deploy.Source.json_data(WEB_CONFIG_FILE, config),
            ],
            destination_bucket=bucket,
            # Browsers check each file again on every load (an unchanged one costs a 304): after a deploy no tab
            # mixes old and new modules. CloudFront's cache is cleared by the invalidation below.
            cache_control=[s3deploy.CacheControl.no_cache()],
            distribution=distribution,
            distribution_paths=["/*"],
            log_group=self.log_group,
            role=self.role,
        )
        _acknowledge_deployment_function(Stack.of(self))
        _acknowledge_grants(self.role, bucket)


def _acknowledge_deployment_function(stack: Stack) -> None:
    for child in stack.node.children:
        if child.node.id.startswith(_DEPLOYMENT_FUNCTION_PREFIX):
            acknowledge(
                child, "AwsSolutions-L1", "The CDK's BucketDeployment handler runs on the runtime the CDK pins."
            )


def _acknowledge_grants(role: IConstruct, bucket: s3.IBucket) -> None:
    bucket_id = Stack.of(bucket).get_logical_id(cast(CfnElement, bucket.node.default_child))
    wildcards = {
        **dict.fromkeys(_DEPLOYMENT_ACTIONS, "Action"),
        _assets_objects(Stack.of(bucket)): "Resource",
        f"<{bucket_id}.Arn>/*": "Resource",
        "*": "Resource",
    }
    for value, kind in wildcards.items():
        acknowledge(
            role,
            f"AwsSolutions-IAM5[{kind}::{value}]",
            "The CDK's BucketDeployment grants, used only while the stack deploys: read the staged page from the "
            "CDK's asset bucket, replace the objects of the page's bucket, invalidate the distribution's cache "
            "(CloudFront invalidations on every distribution: the CDK's grant).",
        )


def _assets_objects(stack: Stack) -> str:
    """The CDK's asset bucket's objects as cdk-nag names them: pseudo parameters where the stack has no fixed env."""

    def shown(value: str, parameter: str) -> str:
        return f"<AWS::{parameter}>" if Token.is_unresolved(value) else value

    bucket = f"cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets"
    return (
        f"arn:{shown(stack.partition, 'Partition')}:s3:::{bucket}-{shown(stack.account, 'AccountId')}"
        f"-{shown(stack.region, 'Region')}/*"
    )
