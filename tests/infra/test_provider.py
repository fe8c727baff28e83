"""The emissions provider is chosen per deployment with CDK context."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from infra.provider import EmissionsProviderConfig, ProviderConfigurationError


def _configure(**context: str) -> tuple[EmissionsProviderConfig, Template]:
    stack = Stack(App(context=context), "ProviderTest")
    config = EmissionsProviderConfig(stack, "EmissionsProvider")
    role = iam.Role(stack, "CalculatorRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    config.grant(role)
    return config, Template.from_stack(stack)


def test_builtin_is_the_default_and_needs_nothing():
    config, template = _configure()
    assert config.provider == "builtin"
    assert config.environment == {}
    template.resource_count_is("AWS::IAM::Policy", 0)


def test_boavizta_passes_its_url_to_the_calculator():
    config, _ = _configure(emissionsProvider="boavizta", boaviztaUrl="https://boavizta.internal:5000")
    assert config.environment == {
        "CARBONMETER_EMISSIONS_PROVIDER": "boavizta",
        "CARBONMETER_BOAVIZTA_URL": "https://boavizta.internal:5000",
    }


def test_http_grants_reading_its_api_key_secret_and_only_that():
    config, template = _configure(
        emissionsProvider="http", httpProviderUrl="https://co2.example.com", httpProviderSecretId="carbonmeter/co2-api"
    )
    # The key itself never reaches the environment: only where to find it
    assert config.environment["CARBONMETER_HTTP_PROVIDER_SECRET_ID"] == "carbonmeter/co2-api"
    assert not any("key" in name.lower() for name in config.environment)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                            "Resource": Match.any_value(),
                        }
                    )
                ]
            }
        },
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"emissionsProvider": "carbon-magic"}, "must be one of builtin, boavizta, http"),
        ({"emissionsProvider": "boavizta"}, "needs -c boaviztaUrl"),
        ({"emissionsProvider": "http", "httpProviderUrl": "https://x"}, "needs -c httpProviderSecretId"),
    ],
)
def test_an_incomplete_provider_context_fails_the_synth_naming_what_is_missing(context, message):
    with pytest.raises(ProviderConfigurationError, match=message):
        _configure(**context)


def test_a_chosen_cloudfront_energy_per_gb_reaches_the_calculator_alone():
    config, _ = _configure(cloudfrontKwhPerGb="0.03")
    assert config.provider == "builtin"
    assert config.environment == {"CARBONMETER_CLOUDFRONT_KWH_PER_GB": "0.03"}


@pytest.mark.parametrize("value", ["0", "5", "plenty"])
def test_an_impossible_cloudfront_energy_per_gb_fails_the_synth(value):
    with pytest.raises(ProviderConfigurationError, match="cloudfront_kwh_per_gb"):
        _configure(cloudfrontKwhPerGb=value)
