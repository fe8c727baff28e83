"""The anomaly topic: one message per anomaly the calculator finds (docs/insights.md, "Anomalies").

Encrypted with the stack's key (the alarm topic's own key unless ``customerManagedKey``), HTTPS only, and
subscribed from CDK context: ``-c anomalyEmail=...`` and ``-c anomalyWebhookUrl=https://...``. The calculator,
which publishes, is the only principal granted ``sns:Publish`` on it.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct
from pydantic import ValidationError

from carbonmeter.models import first_error_message
from carbonmeter.settings import Settings
from infra.constants import (
    ANOMALY_CONTEXT_KEYS,
    ANOMALY_EMAIL_CONTEXT_KEY,
    ANOMALY_TOPIC_DISPLAY_NAME,
    ANOMALY_TOPIC_SETTINGS_FIELD,
    ANOMALY_WEBHOOK_CONTEXT_KEY,
)


class AnomalyConfigurationError(ValueError):
    """The anomaly context does not describe a usable configuration."""


class AnomalyTopic(Construct):
    """The topic, its subscriptions, and the calculator's environment (the topic and the detector's thresholds)."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name=ANOMALY_TOPIC_DISPLAY_NAME, master_key=key, enforce_ssl=True)
        email = self.node.try_get_context(ANOMALY_EMAIL_CONTEXT_KEY)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(str(email)))
        webhook = self.node.try_get_context(ANOMALY_WEBHOOK_CONTEXT_KEY)
        if webhook:
            self.topic.add_subscription(subscriptions.UrlSubscription(_https(str(webhook))))
        self.environment = {
            Settings.env_name(ANOMALY_TOPIC_SETTINGS_FIELD): self.topic.topic_arn,
            **{Settings.env_name(field): value for field, value in self._thresholds().items()},
        }

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """``sns:Publish`` on this topic alone, and the key's two calls that publishing to it needs."""
        self.topic.grant_publish(grantee)

    def _thresholds(self) -> dict[str, str]:
        """The detector's settings chosen by context, checked against their bounds so a bad one fails the synth."""
        values = {
            field: str(value)
            for key, field in ANOMALY_CONTEXT_KEYS.items()
            if (value := self.node.try_get_context(key)) is not None
        }
        try:
            Settings.model_validate(values)
        except ValidationError as exc:
            raise AnomalyConfigurationError(f"invalid anomaly context: {first_error_message(exc)}") from exc
        return values


def _https(url: str) -> str:
    # SNS would also accept http://: an alert carries the connection's figures, so it travels encrypted only.
    if not url.startswith("https://"):
        raise AnomalyConfigurationError(f"{ANOMALY_WEBHOOK_CONTEXT_KEY} must be an https:// URL, not {url!r}")
    return url
