"""The anomaly topic: encrypted, HTTPS only, subscribed from context, published to by the calculator alone."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from carbonmeter.settings import Settings
from infra.anomaly_topic import AnomalyConfigurationError
from infra.application import build_app
from infra.nag import nag_findings
from tests.support.templates import cli_context, logical_id, role_statements

EMAIL = "carbon-team@example.com"
WEBHOOK = "https://hooks.example.com/carbonmeter"


def _synth(**context: Any) -> tuple[Any, Template]:
    # Asset bundling skipped: it changes no resource these tests read.
    app = App(context=cli_context(**context, **{"aws:cdk:bundling-stacks": []}))
    built = build_app(app)
    return built, Template.from_stack(built.stack)


@pytest.fixture(scope="module")
def subscribed() -> tuple[Any, Template]:
    return _synth(anomalyEmail=EMAIL, anomalyWebhookUrl=WEBHOOK, anomalyZThreshold="4", anomalyQuietHours="12")


def _topic_id(template: Template) -> str:
    return logical_id(template.find_resources("AWS::SNS::Topic"), "AnomaliesTopic")


def _calculator_environment(template: Template) -> dict[str, Any]:
    functions = template.find_resources("AWS::Lambda::Function")
    variables: dict[str, Any] = functions[logical_id(functions, "CalculatorFunction")]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def test_the_topic_is_encrypted_with_the_alarm_key_and_refuses_plain_http(template: Template):
    topic_id = _topic_id(template)
    topic = template.find_resources("AWS::SNS::Topic")[topic_id]
    (key_id,) = template.find_resources("AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    policies = [
        p["Properties"]
        for p in template.find_resources("AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": topic_id}]
    ]
    (policy,) = policies
    assert {"Bool": {"aws:SecureTransport": "false"}} in [
        s.get("Condition") for s in policy["PolicyDocument"]["Statement"]
    ]


def test_without_context_nobody_is_subscribed(template: Template):
    topic_id = _topic_id(template)
    subscriptions = template.find_resources("AWS::SNS::Subscription").values()
    assert [s for s in subscriptions if s["Properties"]["TopicArn"] == {"Ref": topic_id}] == []


def test_the_calculator_alone_may_publish_and_only_to_that_topic(template: Template):
    topic_id = _topic_id(template)
    assert _calculator_environment(template)[Settings.env_name("anomaly_topic_arn")] == {"Ref": topic_id}
    publishing = [s for s in role_statements(template, "CalculatorRole") if "sns:Publish" in str(s["Action"])]
    assert publishing == [{"Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": topic_id}}]
    for role in ("SchedulerRole", "CollectorRole"):
        assert all("sns:" not in str(s["Action"]) for s in role_statements(template, role))


def test_failed_deliveries_alarm(template: Template):
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    alarm = alarms[logical_id(alarms, "AlertsAnomalyAlertsFailed")]["Properties"]
    assert alarm["MetricName"] == "NumberOfNotificationsFailed"
    assert alarm["Dimensions"] == [{"Name": "TopicName", "Value": {"Fn::GetAtt": [_topic_id(template), "TopicName"]}}]


def test_email_and_https_subscriptions_and_thresholds_come_from_context(subscribed):
    _, template = subscribed
    topic = {"Ref": _topic_id(template)}
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": EMAIL, "TopicArn": topic}
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "https", "Endpoint": WEBHOOK, "TopicArn": topic}
    )
    environment = _calculator_environment(template)
    assert environment[Settings.env_name("anomaly_z_threshold")] == "4"
    assert environment[Settings.env_name("anomaly_quiet_hours")] == "12"


def test_the_subscribed_stack_has_no_unacknowledged_nag_finding(subscribed):
    built, _ = subscribed
    assert nag_findings(built.app) == []


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"anomalyWebhookUrl": "http://hooks.example.com/x"}, "must be an https:// URL"),
        ({"anomalyZThreshold": "-1"}, "invalid anomaly context: anomaly_z_threshold"),
    ],
)
def test_a_bad_anomaly_context_fails_the_synth(context, message):
    with pytest.raises(AnomalyConfigurationError, match=message):
        _synth(**context)
