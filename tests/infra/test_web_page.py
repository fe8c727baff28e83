"""The web page in the synthesized stack: a private bucket read through origin access control, the distribution's
behaviours and security headers, the deployment of the page with its config.json, and the outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from aws_cdk.cx_api import CloudAssembly

from infra.application import CarbonMeterApp, build_app
from infra.constants import (
    API_DOCS_DIR,
    API_PREFIX,
    WEB_CERTIFICATE_CONTEXT_KEY,
    WEB_CONFIG_FILE,
    WEB_DOMAIN_CONTEXT_KEY,
    WEB_INDEX,
    api_docs_content_security_policy,
    web_content_security_policy,
)
from infra.nag import nag_findings
from infra.web_distribution import WebDomainError
from tests.support.templates import WEB_PAGE_FIXTURE, cli_context, logical_id

# CloudFront's managed policies (their ids are fixed by AWS).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def _distribution(template: Template) -> dict[str, Any]:
    ((_, distribution),) = template.find_resources("AWS::CloudFront::Distribution").items()
    config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config


PAGE_HEADERS, API_DOCS_HEADERS = "WebSecurityHeaders", "WebApiDocsSecurityHeaders"


def _headers_policy(template: Template, prefix: str) -> tuple[str, dict[str, Any]]:
    policies = template.find_resources("AWS::CloudFront::ResponseHeadersPolicy")
    policy_id = logical_id(policies, prefix)
    config: dict[str, Any] = policies[policy_id]["Properties"]["ResponseHeadersPolicyConfig"]
    return policy_id, config


def _csp(template: Template, prefix: str = PAGE_HEADERS) -> str:
    _, config = _headers_policy(template, prefix)
    policy = config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    if isinstance(policy, str):
        return policy
    # Fn::Join of the text around the region: read the pseudo parameters as placeholders
    parts = policy["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else f"<{part['Ref']}>" for part in parts)


def _behaviour(config: dict[str, Any], pattern: str) -> dict[str, Any]:
    (behaviour,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == pattern]
    return behaviour


def _page_bucket(template: Template) -> str:
    return logical_id(template.find_resources("AWS::S3::Bucket"), "WebBucketPage")


def test_both_buckets_are_private_encrypted_and_refuse_plain_http(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    policies = [p["Properties"] for p in template.find_resources("AWS::S3::BucketPolicy").values()]

    assert len(buckets) == 2
    for name, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == BLOCK_ALL, name
        (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}, name
        (policy,) = [p for p in policies if p["Bucket"] == {"Ref": name}]
        denials = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denials), name


def test_the_page_bucket_logs_its_access_to_the_log_bucket(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    page = buckets[_page_bucket(template)]["Properties"]

    assert page["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logical_id(buckets, "WebBucketLogs")}


def test_only_cloudfront_reads_the_page_bucket_through_origin_access_control(template: Template) -> None:
    ((oac_id, oac),) = template.find_resources("AWS::CloudFront::OriginAccessControl").items()
    (origin,) = [o for o in _distribution(template)["Origins"] if "S3OriginConfig" in o]
    page = _page_bucket(template)
    (policy,) = [
        p["Properties"]
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": page}
    ]
    (read,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]

    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    assert "AWS:SourceArn" in read["Condition"]["StringEquals"]


def test_the_page_is_served_over_https_with_index_html_at_the_root(template: Template) -> None:
    config = _distribution(template)

    assert config["DefaultRootObject"] == WEB_INDEX
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultCacheBehavior"]["CachePolicyId"] == CACHING_OPTIMIZED
    assert config["Logging"]["Prefix"]


def test_api_paths_go_uncached_to_the_api_with_the_viewers_authorization(template: Template) -> None:
    config = _distribution(template)
    behaviour = _behaviour(config, "/api/*")
    (api_origin,) = [o for o in config["Origins"] if o["Id"] == behaviour["TargetOriginId"]]
    api_id = logical_id(template.find_resources("AWS::ApiGatewayV2::Api"), "HttpApi")

    assert API_PREFIX.startswith("/api/")
    # Caching disabled with every viewer header but Host: CloudFront forwards Authorization, the ID token
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    # A token never travels in plain HTTP, not even to be redirected
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert api_origin["DomainName"]["Fn::Join"][1][0] == {"Ref": api_id}


@pytest.mark.parametrize("prefix", [PAGE_HEADERS, API_DOCS_HEADERS])
def test_every_answer_carries_the_security_headers(template: Template, prefix: str) -> None:
    _, config = _headers_policy(template, prefix)
    headers = config["SecurityHeadersConfig"]

    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 2 * 365 * 24 * 3600,
        "IncludeSubdomains": True,
        "Override": True,
    }
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"


def test_only_the_api_reference_gets_the_policy_that_allows_inline_styles(template: Template) -> None:
    config = _distribution(template)
    page_policy, _ = _headers_policy(template, PAGE_HEADERS)
    docs_policy, _ = _headers_policy(template, API_DOCS_HEADERS)
    docs = _behaviour(config, f"/{API_DOCS_DIR}/*")

    assert docs["ResponseHeadersPolicyId"] == {"Ref": docs_policy}
    # The reference is the page's own files, from the same private bucket
    assert docs["TargetOriginId"] == config["DefaultCacheBehavior"]["TargetOriginId"]
    others = [config["DefaultCacheBehavior"], *(b for b in config["CacheBehaviors"] if b is not docs)]
    assert all(behaviour["ResponseHeadersPolicyId"] == {"Ref": page_policy} for behaviour in others)
    directives = dict(d.split(" ", 1) for d in _csp(template, API_DOCS_HEADERS).split("; "))
    # Inline styles for Swagger UI, but still no script but the page's own files, and no other origin at all
    assert directives["style-src"] == "'self' 'unsafe-inline'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_the_local_server_sends_the_api_reference_the_deployed_policy(template: Template) -> None:
    assert _csp(template, API_DOCS_HEADERS) == api_docs_content_security_policy()


def test_the_csp_allows_only_the_page_itself_and_the_cognito_endpoint(template: Template) -> None:
    directives = dict(d.split(" ", 1) for d in _csp(template).split("; "))

    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self' https://cognito-idp.<AWS::Region>.<AWS::URLSuffix>"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in _csp(template)


def test_each_deploy_copies_the_page_with_its_config_and_clears_the_cache(
    template: Template, assembly: CloudAssembly
) -> None:
    ((_, deployment),) = template.find_resources("Custom::CDKBucketDeployment").items()
    properties = deployment["Properties"]
    pool_id = logical_id(template.find_resources("AWS::Cognito::UserPool"), "UsersPool")
    client_id = logical_id(template.find_resources("AWS::Cognito::UserPoolClient"), "UsersPoolWebClient")
    distribution_id = logical_id(template.find_resources("AWS::CloudFront::Distribution"), "WebDistribution")
    (config_file,) = Path(assembly.directory).glob(f"asset.*/{WEB_CONFIG_FILE}")
    # A marker stands for a JSON value the handler writes at deploy time: read it as the marker's name
    config = json.loads(re.sub(r"(<<marker:[^>]+>>)", r'"\1"', config_file.read_text()))
    markers = {marker: _refs(value) for marker, value in properties["SourceMarkers"][1].items()}

    assert properties["DestinationBucketName"] == {"Ref": _page_bucket(template)}
    assert properties["DistributionId"] == {"Ref": distribution_id}
    assert properties["DistributionPaths"] == ["/*"]
    assert properties["Prune"] is True
    # Browsers revalidate every file, so no tab mixes the old page's modules with the new one's
    assert properties["SystemMetadata"] == {"cache-control": "no-cache"}
    # The page and config.json, whose markers the handler fills in at deploy time
    assert len(properties["SourceObjectKeys"]) == 2
    assert config["apiBase"] == API_PREFIX
    assert {key: markers[config[key]] for key in ("region", "userPoolId", "clientId", "cognitoEndpoint")} == {
        "region": {"AWS::Region"},
        "userPoolId": {pool_id},
        "clientId": {client_id},
        # The partition's domain, so that the page signs in in China's regions too
        "cognitoEndpoint": {"AWS::Region", "AWS::URLSuffix"},
    }


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {value["Ref"]} if "Ref" in value else {r for child in value.values() for r in _refs(child)}
    if isinstance(value, list):
        return {r for child in value for r in _refs(child)}
    return set()


def test_the_deployment_handler_has_a_role_of_ours_without_managed_policies(template: Template) -> None:
    (function,) = [
        f["Properties"]
        for name, f in template.find_resources("AWS::Lambda::Function").items()
        if name.startswith("CustomCDKBucketDeployment")
    ]
    role_id = function["Role"]["Fn::GetAtt"][0]

    assert role_id.startswith("WebPageRole")
    assert "ManagedPolicyArns" not in template.find_resources("AWS::IAM::Role")[role_id]["Properties"]


def test_outputs_give_the_page_and_what_the_operator_needs_to_add_users(template: Template) -> None:
    outputs = template.find_outputs("*")
    distribution_id = logical_id(template.find_resources("AWS::CloudFront::Distribution"), "WebDistribution")

    assert outputs["WebUrl"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]
    }
    assert outputs["UserPoolId"]["Value"] == {"Ref": logical_id(template.find_resources("AWS::Cognito::UserPool"), "")}
    assert outputs["UserPoolClientId"]["Value"] == {
        "Ref": logical_id(template.find_resources("AWS::Cognito::UserPoolClient"), "")
    }


def test_the_local_server_gets_the_same_csp_with_cognito_under_the_page_origin(template: Template) -> None:
    deployed = dict(d.split(" ", 1) for d in _csp(template).split("; "))
    local = dict(d.split(" ", 1) for d in web_content_security_policy().split("; "))

    assert local["connect-src"] == "'self'"
    assert {k: v for k, v in local.items() if k != "connect-src"} == {
        k: v for k, v in deployed.items() if k != "connect-src"
    }


def test_the_deployed_page_leaves_out_hidden_files(assembly: CloudAssembly) -> None:
    # The stand-in page holds `make web-assets`' stamp, `.complete`, as an assembled page does
    assert (WEB_PAGE_FIXTURE / ".complete").is_file()
    (page,) = [path.parent for path in Path(assembly.directory).glob(f"asset.*/{WEB_INDEX}")]

    assert (page / "css" / "page.css").is_file()
    assert not list(page.rglob(".*"))


CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def _app_with(tmp_path: Path, **context: str) -> CarbonMeterApp:
    # Asset bundling skipped: the distribution does not depend on the layer's contents
    return build_app(
        App(context=cli_context(**context, **{"aws:cdk:bundling-stacks": []}), outdir=str(tmp_path / "cdk.out"))
    )


def test_a_custom_domain_serves_the_page_under_its_name_with_modern_tls(tmp_path: Path) -> None:
    # Given `-c webDomainName=... -c webCertificateArn=...`
    built = _app_with(
        tmp_path, **{WEB_DOMAIN_CONTEXT_KEY: "carbon.example.com", WEB_CERTIFICATE_CONTEXT_KEY: CERTIFICATE_ARN}
    )
    template = Template.from_stack(built.stack)
    config = _distribution(template)

    # Then the distribution answers to that name with its certificate and TLS 1.2 or later, and the output says so
    assert config["Aliases"] == ["carbon.example.com"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERTIFICATE_ARN,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert template.find_outputs("WebUrl")["WebUrl"]["Value"] == "https://carbon.example.com"
    assert nag_findings(built.app) == []


def test_a_custom_domain_without_its_certificate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WebDomainError, match=f"{WEB_DOMAIN_CONTEXT_KEY} and {WEB_CERTIFICATE_CONTEXT_KEY} go together"):
        _app_with(tmp_path, **{WEB_DOMAIN_CONTEXT_KEY: "carbon.example.com"})
