"""The insights' deployment: the daily cost and monthly reconciliation rules, their grants, alarms and the customer
role's two new actions."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from carbonmeter.insights.schedule import InsightScheduleEvent
from carbonmeter.metrics import MetricName
from infra.constants import DLQ_MAX_RECEIVE_COUNT
from tests.support.templates import actions_of, logical_id, role_statements

INSIGHT_ACTIONS = {"ce:GetCostAndUsage", "sustainability:GetEstimatedCarbonEmissions"}


def _insight_rules(template: Template) -> dict[str, dict]:
    rules = template.find_resources("AWS::Events::Rule")
    return {name: rule for name, rule in rules.items() if name.startswith("InsightSchedules")}


def test_two_daily_rules_invoke_the_scheduler_with_an_event_it_parses(template: Template) -> None:
    scheduler_id = logical_id(template.find_resources("AWS::Lambda::Function"), "SchedulerFunction")
    rules = _insight_rules(template)

    assert len(rules) == 2
    insights = set()
    for rule in rules.values():
        properties = rule["Properties"]
        assert properties["ScheduleExpression"].endswith(" * ? *)"), "fires every day"
        (target,) = properties["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [scheduler_id, "Arn"]}
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"] == {"time": "$.time"}
        # What EventBridge sends once it fills in the time (a string, so quoted): the scheduler's model reads it.
        sent = json.loads(transformer["InputTemplate"].replace("<time>", '"2026-12-01T06:20:00Z"'))
        insights.add(str(InsightScheduleEvent.model_validate(sent).insight))
    assert insights == {"costs", "reconciliation"}


def test_the_collector_makes_no_cost_or_carbon_call_in_carbonmeters_account(template: Template) -> None:
    for function in ("Collector", "Scheduler", "Calculator"):
        actions = {action for s in role_statements(template, f"{function}Role") for action in actions_of(s)}
        assert not actions & INSIGHT_ACTIONS, function


def test_the_customer_role_may_make_both_insight_calls(customer_template: Template) -> None:
    (role,) = customer_template.find_resources("AWS::IAM::Role").values()
    (policy,) = role["Properties"]["Policies"]
    actions = {action for s in policy["PolicyDocument"]["Statement"] for action in actions_of(s)}

    assert actions >= INSIGHT_ACTIONS


def test_failing_insight_jobs_alarm_once_a_job_has_failed_every_receive(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    by_metric = {alarm["Properties"].get("MetricName"): alarm["Properties"] for alarm in alarms.values()}

    for metric in (MetricName.COST_JOBS_FAILED, MetricName.RECONCILIATION_JOBS_FAILED):
        alarm = by_metric[str(metric)]
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "carbonmeter-collector"}]
        assert alarm["Threshold"] == DLQ_MAX_RECEIVE_COUNT
        assert alarm["Period"] == 86400
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
