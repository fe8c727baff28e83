"""cdk-nag on the web page's resources: nothing unacknowledged on the user pool, the HTTP API, the distribution and
the buckets, and the same rules do report those resources when they are left at their defaults."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_s3 as s3

from infra.application import CarbonMeterApp
from infra.nag import nag_findings

# The stack's web constructs (infra/stack.py, _add_web), and the CDK's handler that deploys the page.
WEB_CONSTRUCTS = ("Users", "HttpApi", "Api", "WebBucket", "Web", "WebPage")
DEPLOYMENT_HANDLER = "Custom::CDKBucketDeployment"


def _is_web(path: str) -> bool:
    parts = path.split("/")
    return len(parts) > 1 and (parts[1] in WEB_CONSTRUCTS or parts[1].startswith(DEPLOYMENT_HANDLER))


@pytest.mark.parametrize("app_fixture", ["cdk_app", "cmk_app"])
def test_the_web_resources_have_no_unacknowledged_finding(request: pytest.FixtureRequest, app_fixture: str) -> None:
    app: CarbonMeterApp = request.getfixturevalue(app_fixture)
    children = {child.node.id for child in app.stack.node.children}

    assert set(WEB_CONSTRUCTS) <= children
    assert any(child.startswith(DEPLOYMENT_HANDLER) for child in children)
    findings = [f for f in nag_findings(app.app) if _is_web(f.construct_path)]

    assert findings == [], "\n".join(str(finding) for finding in findings)


def _default_web_resources() -> App:
    """A user pool, an HTTP API, a bucket and a distribution as the CDK makes them without settings."""
    app = App()
    stack = Stack(app, "Defaults")
    cognito.UserPool(stack, "Pool")
    bucket = s3.Bucket(stack, "Bucket")
    api = apigwv2.HttpApi(stack, "Api")
    api.add_routes(path="/{proxy+}", integration=integrations.HttpUrlIntegration("Url", "https://example.com"))
    cloudfront.Distribution(
        stack, "Distribution", default_behavior=cloudfront.BehaviorOptions(origin=origins.S3BucketOrigin(bucket))
    )
    return app


def test_the_rules_report_those_resources_at_their_defaults() -> None:
    rules = {finding.rule for finding in nag_findings(_default_web_resources())}

    # So an empty result above means the settings and acknowledgements, not rules that never looked
    assert {"AwsSolutions-COG1", "AwsSolutions-COG2", "AwsSolutions-COG8"} <= rules
    assert {"AwsSolutions-APIG1", "AwsSolutions-APIG4"} <= rules
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules
    assert {"AwsSolutions-CFR3", "AwsSolutions-CFR4", "AwsSolutions-CFR7"} <= rules
