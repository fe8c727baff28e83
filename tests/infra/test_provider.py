"""The emissions provider is chosen per deployment with CDK context."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from infra.application import build_app
from infra.nag import nag_findings
from infra.provider import EmissionsProviderConfig, ProviderConfigurationError
from tests.support.templates import cli_context, logical_id


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


def test_oxygenit_passes_its_choices_and_grants_reading_its_key_secret_alone():
    config, template = _configure(
        emissionsProvider="oxygenit",
        oxygenitUrl="https://oxygenit.example.com",
        oxygenitSecretId="carbonmeter/oxygenit",
        oxygenitKeyHeader="X-OxygenIT-Key",
        oxygenitEnergyUnit="kWh",
    )
    assert config.environment == {
        "CARBONMETER_EMISSIONS_PROVIDER": "oxygenit",
        "CARBONMETER_OXYGENIT_URL": "https://oxygenit.example.com",
        "CARBONMETER_OXYGENIT_SECRET_ID": "carbonmeter/oxygenit",
        "CARBONMETER_OXYGENIT_KEY_HEADER": "X-OxygenIT-Key",
        "CARBONMETER_OXYGENIT_ENERGY_UNIT": "kWh",
    }
    [policy] = template.find_resources("AWS::IAM::Policy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    # That one secret, by name (with the random suffix Secrets Manager appends), nothing else
    assert "carbonmeter/oxygenit-??????" in json.dumps(statement["Resource"])


def test_the_http_providers_secret_is_not_granted_when_oxygenit_is_chosen():
    _, template = _configure(
        emissionsProvider="oxygenit",
        oxygenitUrl="https://oxygenit.example.com",
        oxygenitSecretId="carbonmeter/oxygenit",
        httpProviderSecretId="carbonmeter/co2-api",
    )
    assert "co2-api" not in json.dumps(template.find_resources("AWS::IAM::Policy"))


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"emissionsProvider": "oxygenit", "oxygenitSecretId": "s"}, "needs -c oxygenitUrl"),
        ({"emissionsProvider": "oxygenit", "oxygenitUrl": "https://x"}, "needs -c oxygenitSecretId"),
        (
            {
                "emissionsProvider": "oxygenit",
                "oxygenitUrl": "https://x",
                "oxygenitSecretId": "s",
                "oxygenitEnergyUnit": "J",
            },
            "oxygenit_energy_unit",
        ),
        (
            {
                "emissionsProvider": "oxygenit",
                "oxygenitUrl": "https://x",
                "oxygenitSecretId": "s",
                "oxygenitKeyHeader": "x key",
            },
            "oxygenit_key_header",
        ),
    ],
)
def test_an_incomplete_or_impossible_oxygenit_context_fails_the_synth(context, message):
    with pytest.raises(ProviderConfigurationError, match=message):
        _configure(**context)


def test_in_the_deployed_stack_only_the_calculator_may_read_the_oxygenit_key_and_nag_stays_clean(tmp_path):
    # Given the whole app synthesized as `cdk synth -c emissionsProvider=oxygenit ...` would
    context = {"emissionsProvider": "oxygenit", "oxygenitUrl": "https://o.example.com", "oxygenitSecretId": "cm/oxy"}
    built = build_app(App(context=cli_context(**context), outdir=str(tmp_path)))
    template = Template.from_stack(built.stack)

    # Then the one statement reading a secret is on that secret, in a policy of the calculator's role alone
    readers = [
        (policy["Properties"]["Roles"], statement)
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"])
    ]
    calculator_role = logical_id(template.find_resources("AWS::IAM::Role"), "CalculatorRole")
    [(roles, statement)] = readers
    assert roles == [{"Ref": calculator_role}]
    assert "cm/oxy-??????" in json.dumps(statement["Resource"])
    # And the calculator is told where the API is, never the key
    calculator_env = [
        fn["Properties"]["Environment"]["Variables"]
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Environment", {}).get("Variables", {}).get("CARBONMETER_OXYGENIT_URL")
    ]
    assert [env["CARBONMETER_OXYGENIT_SECRET_ID"] for env in calculator_env] == ["cm/oxy"]
    # And cdk-nag has nothing to say
    assert nag_findings(built.app) == []
