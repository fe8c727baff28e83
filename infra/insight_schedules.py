"""The insights' two EventBridge rules: the daily cost run and the monthly reconciliation, both on the scheduler.

Each rule sends the scheduler ``{"insight": ..., "time": <the event's time>}`` (carbonmeter.insights.schedule),
which queues one job per enabled connection on the collect queue: the collector's role alone may assume the
customers' roles, so the collector fetches Cost Explorer's and the Sustainability API's figures.
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from carbonmeter.insights.schedule import Insight
from infra.constants import COST_SCHEDULE, RECONCILIATION_SCHEDULE


class InsightSchedules(Construct):
    """The two rules; like the hourly rule's, a run that fails every retry waits in the scheduler's dead letters."""

    def __init__(self, scope: Construct, construct_id: str, *, scheduler: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.costs = self._rule(
            "DailyCosts",
            Insight.COSTS,
            COST_SCHEDULE,
            "Queues each connection's last days of spend (Cost Explorer) for the collector",
            scheduler,
        )
        # Daily, not monthly: a connection whose due month is stored gets no job, so a month AWS publishes late,
        # or a job that failed for good, is fetched again the next day.
        self.reconciliation = self._rule(
            "MonthlyReconciliation",
            Insight.RECONCILIATION,
            RECONCILIATION_SCHEDULE,
            "Queues each connection's latest published month of AWS's carbon figures until it is stored",
            scheduler,
        )

    def _rule(
        self,
        construct_id: str,
        insight: Insight,
        schedule: events.Schedule,
        description: str,
        scheduler: lambda_.IFunction,
    ) -> events.Rule:
        target = targets.LambdaFunction(
            scheduler,
            event=events.RuleTargetInput.from_object({"insight": str(insight), "time": events.EventField.time}),
            retry_attempts=2,
        )
        return events.Rule(self, construct_id, description=description, schedule=schedule, targets=[target])
