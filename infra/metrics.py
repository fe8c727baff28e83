"""CloudWatch metrics that the alarms and the dashboard share, so both always look at the same series."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_

from infra.constants import METRICS_NAMESPACE, SCHEDULER, STALE_CONNECTIONS_METRIC, FunctionSpec, service_name


def carbonmeter_metric(spec: FunctionSpec, name: str, *, statistic: str, period: Duration) -> cloudwatch.Metric:
    """A metric one function emits through Powertools (EMF), under its ``service`` dimension."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service_name(spec)},
        statistic=statistic,
        period=period,
    )


def stale_connections(period: Duration) -> cloudwatch.Metric:
    """Enabled connections with no successful hour for too long, as counted by the scheduler's last run."""
    return carbonmeter_metric(SCHEDULER, STALE_CONNECTIONS_METRIC, statistic="Maximum", period=period)


def error_rate_percent(function: lambda_.IFunction, period: Duration) -> cloudwatch.MathExpression:
    """Failed invocations as a share of all invocations; 0 in a period without invocations."""
    return cloudwatch.MathExpression(
        expression="IF(invocations > 0, 100 * errors / invocations, 0)",
        using_metrics={
            "errors": function.metric_errors(period=period, statistic="Sum"),
            "invocations": function.metric_invocations(period=period, statistic="Sum"),
        },
        label="error rate (%)",
        period=period,
    )
