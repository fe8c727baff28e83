"""The web page's sign-in and HTTP API in the synthesized stack: the user pool, the JWT authorizer on every route,
stage throttling, and the API function's read-only grants."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from infra.constants import API, API_ROUTE, API_THROTTLE_BURST, API_THROTTLE_RATE, service_name
from infra.user_pool import PASSWORD_MIN_LENGTH
from tests.support.templates import actions_of, carbonmeter_functions, logical_id, resources_of, role_statements

DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
}
# What the use cases behind docs/api.md's routes call (carbonmeter.tenancy over store, queries, series, insights),
# as every route run under the guard of the deployed policies showed: the connection (GetItem) and the list (Scan);
# hour statuses, costs and usage records (Query) and AWS's monthly figure (GetItem) in the usage table; roll-ups,
# records and anomalies (Query) in the emissions table.
API_READS = {
    "TablesConnections": {"dynamodb:GetItem", "dynamodb:Scan"},
    "TablesUsage": {"dynamodb:Query", "dynamodb:GetItem"},
    "TablesEmissions": {"dynamodb:Query"},
}


def _one(template: Template, type_: str) -> tuple[str, dict[str, Any]]:
    ((name, resource),) = template.find_resources(type_).items()
    return name, resource["Properties"]


def test_only_the_operator_creates_users_and_passwords_are_strong(template: Template) -> None:
    _, pool = _one(template, "AWS::Cognito::UserPool")

    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": PASSWORD_MIN_LENGTH,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "TemporaryPasswordValidityDays": 3,
    }
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_the_page_client_is_public_and_signs_in_with_a_password_or_srp(template: Template) -> None:
    _, client = _one(template, "AWS::Cognito::UserPoolClient")

    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    # Tokens of an hour; a day's refresh token
    assert (client["IdTokenValidity"], client["AccessTokenValidity"], client["RefreshTokenValidity"]) == (60, 60, 1440)
    assert client["TokenValidityUnits"] == {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "minutes"}
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_the_authorizer_checks_the_pools_tokens_for_the_page_client(template: Template) -> None:
    pool_id, _ = _one(template, "AWS::Cognito::UserPool")
    client_id, _ = _one(template, "AWS::Cognito::UserPoolClient")
    _, authorizer = _one(template, "AWS::ApiGatewayV2::Authorizer")

    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    # ProviderURL is https://cognito-idp.<region>.amazonaws.com/<pool id>, the issuer of the pool's tokens
    assert authorizer["JwtConfiguration"] == {
        "Issuer": {"Fn::GetAtt": [pool_id, "ProviderURL"]},
        "Audience": [{"Ref": client_id}],
    }


def test_every_route_needs_the_jwt_authorizer_and_reaches_the_api_function(template: Template) -> None:
    authorizer_id, _ = _one(template, "AWS::ApiGatewayV2::Authorizer")
    routes = template.find_resources("AWS::ApiGatewayV2::Route").values()
    _, integration = _one(template, "AWS::ApiGatewayV2::Integration")
    api_function = logical_id(carbonmeter_functions(template), "ApiFunction")

    assert [route["Properties"]["RouteKey"] for route in routes] == [f"ANY {API_ROUTE}"]
    for route in routes:
        assert route["Properties"]["AuthorizationType"] == "JWT"
        assert route["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert integration["IntegrationUri"] == {"Fn::GetAtt": [api_function, "Arn"]}


def test_the_stage_is_throttled_and_logs_each_request_without_its_path(template: Template) -> None:
    _, stage = _one(template, "AWS::ApiGatewayV2::Stage")

    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": API_THROTTLE_RATE,
        "ThrottlingBurstLimit": API_THROTTLE_BURST,
    }
    log_format = stage["AccessLogSettings"]["Format"]
    assert "$context.requestId" in log_format
    assert "$context.routeKey" in log_format
    # A path names a connection: the log must not tell whether another tenant's connection exists
    assert "$context.path" not in log_format


def test_no_cors_headers_are_configured(template: Template) -> None:
    # Same origin: the distribution serves page and API, so the browser needs no CORS and allows no other origin
    _, api = _one(template, "AWS::ApiGatewayV2::Api")

    assert "CorsConfiguration" not in api


def test_the_api_function_reads_exactly_the_tables_its_routes_read_and_writes_nothing(template: Template) -> None:
    statements = role_statements(template, "ApiRole")
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")
    granted: dict[str, set[str]] = {}
    for statement in statements:
        dynamodb = {a for a in actions_of(statement) if a.startswith("dynamodb:")}
        for resource in resources_of(statement) if dynamodb else []:
            granted.setdefault(resource["Fn::GetAtt"][0], set()).update(dynamodb)

    assert granted == {logical_id(tables, prefix): actions for prefix, actions in API_READS.items()}
    assert not {a for s in statements for a in actions_of(s)} & DYNAMODB_WRITES
    # Nothing else of the pipeline: no queue, no topic, no role to assume
    services = {a.split(":")[0] for s in statements for a in actions_of(s)}
    assert services == {"logs", "xray", "dynamodb"}


def test_the_api_function_is_named_for_powertools_and_answers_within_api_gateways_timeout(template: Template) -> None:
    functions = carbonmeter_functions(template)
    function = functions[logical_id(functions, "ApiFunction")]["Properties"]

    assert function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == service_name(API)
    # API Gateway gives an integration 30 seconds at most
    assert function["Timeout"] == API.timeout.to_seconds() < 30
