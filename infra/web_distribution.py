"""The CloudFront distribution of the web page: the page from its private bucket, ``/api/*`` from the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constants import (
    API_DOCS_DIR,
    WEB_CERTIFICATE_CONTEXT_KEY,
    WEB_DOMAIN_CONTEXT_KEY,
    WEB_INDEX,
    api_docs_content_security_policy,
    web_content_security_policy,
)
from infra.nag import acknowledge
from infra.web_bucket import DISTRIBUTION_LOG_PREFIX

API_PATH_PATTERN = "/api/*"
API_DOCS_PATH_PATTERN = f"/{API_DOCS_DIR}/*"
# Two years, with subdomains: what the HSTS preload list asks for.
HSTS_MAX_AGE = Duration.days(730)


class WebDomainError(ValueError):
    """The custom domain's context is incomplete."""


@dataclass(frozen=True)
class WebDomain:
    """The operator's own name for the page, and its ACM certificate (in us-east-1)."""

    name: str
    certificate_arn: str

    @classmethod
    def from_context(cls, scope: Construct) -> WebDomain | None:
        name = scope.node.try_get_context(WEB_DOMAIN_CONTEXT_KEY)
        certificate = scope.node.try_get_context(WEB_CERTIFICATE_CONTEXT_KEY)
        if not name and not certificate:
            return None
        if not (name and certificate):
            raise WebDomainError(
                f"context {WEB_DOMAIN_CONTEXT_KEY} and {WEB_CERTIFICATE_CONTEXT_KEY} go together: give both or neither"
            )
        return cls(str(name), str(certificate))


def cognito_origin() -> str:
    """The Cognito endpoint the page signs in with, in the stack's region."""
    return f"https://cognito-idp.{Aws.REGION}.{Aws.URL_SUFFIX}"


class WebDistribution(Construct):
    """HTTPS only; every answer carries the security headers (CSP, HSTS, frame and content-type options, referrer).

    The API behaviour caches nothing and forwards every viewer header but Host (API Gateway routes by its own host
    name); with caching disabled that policy forwards ``Authorization``, the ID token. Tokens never travel in plain
    HTTP: the API behaviour refuses it instead of redirecting, since a redirect would follow a request that already
    carried the token.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, api_domain: str, log_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        # The page and the API stay one origin under a custom name too, so it needs no CORS either.
        self.domain = WebDomain.from_context(self)
        self.headers = self._headers_policy(
            "SecurityHeaders",
            "CarbonMeter web page: CSP, HSTS, frame, content-type and referrer headers",
            web_content_security_policy(cognito_origin()),
        )
        # The API reference's Swagger UI sets inline styles; only its path gets a policy that allows them.
        self.api_docs_headers = self._headers_policy(
            "ApiDocsSecurityHeaders",
            "CarbonMeter API reference: the page's headers, with inline styles allowed for Swagger UI",
            api_docs_content_security_policy(),
        )
        page_origin = origins.S3BucketOrigin.with_origin_access_control(bucket)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="CarbonMeter web page and API",
            default_root_object=WEB_INDEX,
            default_behavior=cloudfront.BehaviorOptions(
                origin=page_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
            ),
            additional_behaviors={
                API_DOCS_PATH_PATTERN: cloudfront.BehaviorOptions(
                    origin=page_origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                    response_headers_policy=self.api_docs_headers,
                ),
                API_PATH_PATTERN: cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    # The API only reads (docs/api.md).
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=self.headers,
                ),
            },
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix=DISTRIBUTION_LOG_PREFIX,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            domain_names=[self.domain.name] if self.domain else None,
            certificate=self._certificate(),
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if self.domain else None,
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "No geo restriction: the page's users are wherever the operator's customers are; sign-in guards it.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "No WAF: every API request needs a Cognito token, the stage is throttled, and the page is static; a web "
            "ACL costs more per month than the rest of the web page.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate, whose TLS policy CloudFront sets; with a custom domain "
            "(-c webDomainName, -c webCertificateArn) the distribution requires TLSv1.2_2021.",
        )

    def _headers_policy(self, construct_id: str, comment: str, csp: str) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            construct_id,
            comment=comment,
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
            ),
        )

    def _certificate(self) -> acm.ICertificate | None:
        if self.domain is None:
            return None
        return acm.Certificate.from_certificate_arn(self, "Certificate", self.domain.certificate_arn)

    @property
    def url(self) -> str:
        host = self.domain.name if self.domain else self.distribution.distribution_domain_name
        return f"https://{host}"
