"""The web page's HTTP API: one API Gateway HTTP API, every route behind Cognito's JWT authorizer, one function."""

from __future__ import annotations

import json

import jsii
from aws_cdk import Aws
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constants import API_ROUTE, API_THROTTLE_BURST, API_THROTTLE_RATE, LOG_RETENTION, SERVICE_NAME_PREFIX

# One JSON line per request. The route key, not the path: a path names a connection, and a log line must not tell
# whether a connection of another tenant exists (docs/api.md).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")))


class WebHttpApi(Construct):
    """``ANY /api/v1/{proxy+}`` to ``function`` (Lambda proxy, payload 2.0), for holders of the web client's tokens.

    No CORS configuration: the page and the API are served by one CloudFront distribution, so the browser calls the
    API from the page's own origin, and without CORS headers it refuses every other origin. Naming the
    distribution's domain here would make a dependency cycle (the distribution's origin is this API).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        user_pool: cognito.UserPool,
        client: cognito.IUserPoolClient,
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Issuer https://cognito-idp.<region>.amazonaws.com/<pool id>, audience the page's client: API Gateway
        # checks signature, expiry, issuer and audience, and passes the claims (cognito:groups) to the function.
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "CognitoAuthorizer",
            user_pool.user_pool_provider_url,
            jwt_audience=[client.user_pool_client_id],
        )
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{SERVICE_NAME_PREFIX}-web-api",
            description="CarbonMeter's web page API",
            create_default_stage=False,
            default_authorizer=self.authorizer,
        )
        self.routes = self.api.add_routes(
            path=API_ROUTE,
            methods=[apigwv2.HttpMethod.ANY],
            integration=integrations.HttpLambdaIntegration(
                "Function", function, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
            ),
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION, encryption_key=log_key)
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=API_THROTTLE_RATE, burst_limit=API_THROTTLE_BURST),
            access_log_settings=_AccessLogSettings(self.access_logs),
        )

    @property
    def domain_name(self) -> str:
        """The API's own host name, CloudFront's origin for ``/api/*``."""
        return f"{self.api.api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}"
