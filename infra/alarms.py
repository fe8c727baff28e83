"""Operator alerts: an encrypted SNS topic and the alarms that publish to it (runbook: docs/operations.md)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    ALARM_PERIOD,
    COLLECTOR,
    DLQ_MAX_RECEIVE_COUNT,
    ERROR_RATE_PERIOD,
    ERROR_RATE_THRESHOLD_PERCENT,
    INSIGHT_FAILURE_PERIOD,
    SCHEDULER_SILENT_HOURS,
    STALE_AFTER_HOURS,
    STALE_CONNECTIONS_PERIOD,
)
from infra.metrics import carbonmeter_metric, error_rate_percent, stale_connections


class Alerts(Construct):
    """The alarm topic (encrypted with ``key`` when given, else with a key of its own) and every alarm."""

    def __init__(
        self, scope: Construct, construct_id: str, *, email: str | None = None, key: kms.IKey | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        # A customer managed key: CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key.
        self.key = key or kms.Key(self, "TopicKey", description="CarbonMeter alarm topic", enable_key_rotation=True)
        self.key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", display_name="CarbonMeter alarms", master_key=self.key, enforce_ssl=True)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms: list[cloudwatch.Alarm] = []

    def alarm_on_dead_letters(self, construct_id: str, queue: sqs.IQueue, what: str) -> cloudwatch.Alarm:
        """Alarm as soon as one message is waiting in ``queue``."""
        return self._alarm(
            construct_id,
            description=f"{what} failed repeatedly and were moved to the dead-letter queue",
            metric=queue.metric_approximate_number_of_messages_visible(period=ALARM_PERIOD, statistic="Maximum"),
            threshold=0,
        )

    def alarm_on_error_rate(self, construct_id: str, function: lambda_.IFunction, what: str) -> cloudwatch.Alarm:
        """Alarm when more than the threshold share of an hour's invocations of ``function`` failed."""
        return self._alarm(
            construct_id,
            description=(
                f"More than {ERROR_RATE_THRESHOLD_PERCENT}% of the {what} function's invocations "
                f"failed within {ERROR_RATE_PERIOD.to_hours():g} hour"
            ),
            metric=error_rate_percent(function, ERROR_RATE_PERIOD),
            threshold=ERROR_RATE_THRESHOLD_PERCENT,
        )

    def alarm_on_stale_connections(self, construct_id: str) -> cloudwatch.Alarm:
        """Alarm while the scheduler counts at least one enabled connection without a recent successful hour."""
        return self._alarm(
            construct_id,
            description=f"At least one enabled connection has had no successful hour in {STALE_AFTER_HOURS} hours",
            metric=stale_connections(STALE_CONNECTIONS_PERIOD),
            threshold=0,
        )

    def alarm_on_failed_notifications(self, construct_id: str, topic: sns.ITopic, what: str) -> cloudwatch.Alarm:
        """Alarm when SNS could not deliver a message of ``topic`` to a subscription (after its own retries)."""
        return self._alarm(
            construct_id,
            description=f"{what} could not be delivered to a subscriber of their topic",
            metric=topic.metric_number_of_notifications_failed(period=ALARM_PERIOD, statistic="Sum"),
            threshold=0,
        )

    def alarm_when_silent(self, construct_id: str, function: lambda_.IFunction, what: str) -> cloudwatch.Alarm:
        """Alarm when ``function`` was not invoked at all for a while: no metric is emitted then, hence BREACHING."""
        return self._alarm(
            construct_id,
            description=f"The {what} function has not run for {SCHEDULER_SILENT_HOURS} hours",
            metric=function.metric_invocations(period=Duration.hours(1), statistic="Sum"),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=SCHEDULER_SILENT_HOURS,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    def alarm_on_failed_insight_jobs(self, construct_id: str, metric_name: str, what: str) -> cloudwatch.Alarm:
        """Alarm when a day saw as many failed attempts as one job gets before its dead letter (daily jobs)."""
        return self._alarm(
            construct_id,
            description=f"{what} failed {DLQ_MAX_RECEIVE_COUNT} times or more within a day",
            metric=carbonmeter_metric(COLLECTOR, metric_name, statistic="Sum", period=INSIGHT_FAILURE_PERIOD),
            threshold=DLQ_MAX_RECEIVE_COUNT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )

    def _alarm(
        self,
        construct_id: str,
        *,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=f"{description}. Runbook: docs/operations.md#{construct_id.lower()}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm
