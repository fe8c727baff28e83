"""The CloudWatch dashboard: the functions, the queues, what the collector costs and the alarms, on one page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    COLLECTOR,
    COLLECTOR_COUNT_METRICS,
    COLLECTOR_DURATION_METRIC,
    STALE_AFTER_HOURS,
)
from infra.metrics import carbonmeter_metric, stale_connections
from infra.queues import WorkQueue

# Graphs are read over a day of hourly bursts; five minutes shows each burst.
_PERIOD = Duration.minutes(5)
_HOUR = Duration.hours(1)
_WIDTH = 8
_HEIGHT = 6


@dataclass(frozen=True)
class DashboardFunction:
    label: str
    function: lambda_.IFunction
    # Where its failed asynchronous invocations go, if anywhere: graphed with its errors.
    dead_letter_queue: sqs.IQueue | None = None


@dataclass(frozen=True)
class DashboardQueue:
    label: str
    queue: WorkQueue


class OperationsDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Sequence[DashboardFunction],
        queues: Sequence[DashboardQueue],
        alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.days(1))
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24))
        self.dashboard.add_widgets(*(_function_widget(entry) for entry in functions))
        self.dashboard.add_widgets(*(_queue_widget(entry) for entry in queues), _stale_widget())
        self.dashboard.add_widgets(*_collector_widgets())


def _function_widget(entry: DashboardFunction) -> cloudwatch.GraphWidget:
    function = entry.function
    counts = [
        function.metric_invocations(period=_PERIOD, statistic="Sum", label="invocations"),
        function.metric_errors(period=_PERIOD, statistic="Sum", label="errors"),
        function.metric_throttles(period=_PERIOD, statistic="Sum", label="throttles"),
    ]
    if entry.dead_letter_queue is not None:
        counts.append(
            entry.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=_PERIOD, statistic="Maximum", label="dead letters"
            )
        )
    return cloudwatch.GraphWidget(
        title=f"{entry.label}: invocations, errors, duration",
        left=counts,
        right=[
            function.metric_duration(period=_PERIOD, statistic="p50", label="duration p50 (ms)"),
            function.metric_duration(period=_PERIOD, statistic="Maximum", label="duration max (ms)"),
        ],
        width=_WIDTH,
        height=_HEIGHT,
    )


def _queue_widget(entry: DashboardQueue) -> cloudwatch.GraphWidget:
    work, dead = entry.queue.queue, entry.queue.dead_letter_queue
    return cloudwatch.GraphWidget(
        title=f"{entry.label} queue depth",
        left=[
            work.metric_approximate_number_of_messages_visible(period=_PERIOD, statistic="Maximum", label="waiting"),
            work.metric_approximate_number_of_messages_not_visible(
                period=_PERIOD, statistic="Maximum", label="in flight"
            ),
            dead.metric_approximate_number_of_messages_visible(
                period=_PERIOD, statistic="Maximum", label="dead letters"
            ),
        ],
        right=[
            work.metric_approximate_age_of_oldest_message(period=_PERIOD, statistic="Maximum", label="oldest (s)"),
        ],
        width=_WIDTH,
        height=_HEIGHT,
    )


def _stale_widget() -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=f"Connections without a successful hour in {STALE_AFTER_HOURS} h",
        left=[stale_connections(_HOUR).with_(label="stale connections")],
        width=_WIDTH,
        height=_HEIGHT,
    )


def _collector_widgets() -> list[cloudwatch.IWidget]:
    """Per hour across all connections: what collection reads, writes and costs, and how long it takes."""
    counts = [
        carbonmeter_metric(COLLECTOR, name, statistic="Sum", period=_HOUR).with_(label=name)
        for name in COLLECTOR_COUNT_METRICS
    ]
    duration = [
        carbonmeter_metric(COLLECTOR, COLLECTOR_DURATION_METRIC, statistic=statistic, period=_HOUR).with_(
            label=f"{COLLECTOR_DURATION_METRIC} {statistic} (ms)"
        )
        for statistic in ("p50", "Maximum")
    ]
    return [
        cloudwatch.GraphWidget(
            title="Collector per hour (sum over connections)", left=counts, width=16, height=_HEIGHT
        ),
        cloudwatch.GraphWidget(
            title="Collection time per connection-hour", left=duration, width=_WIDTH, height=_HEIGHT
        ),
    ]
