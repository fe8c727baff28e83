"""Operations: the alarms that page the operator, their runbook, and the dashboard."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from carbonmeter.settings import Settings
from infra.constants import (
    CLOUDWATCH_GET_METRIC_DATA_TPS,
    COLLECTOR_CONSUMER,
    COLLECTOR_COUNT_METRICS,
    COLLECTOR_DURATION_METRIC,
    COLLECTOR_METRIC_DATA_SETTINGS_FIELD,
    ERROR_RATE_THRESHOLD_PERCENT,
    METRICS_NAMESPACE,
    REPO_ROOT,
    SCHEDULER_SILENT_HOURS,
    STALE_AFTER_HOURS,
    STALE_CONNECTIONS_METRIC,
)
from tests.support.templates import logical_id

RUNBOOK = REPO_ROOT / "docs" / "operations.md"
FUNCTIONS = ("Scheduler", "Collector", "Calculator", "Api")


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {name: alarm["Properties"] for name, alarm in template.find_resources("AWS::CloudWatch::Alarm").items()}


def _alarm(template: Template, prefix: str) -> dict[str, Any]:
    alarms = _alarms(template)
    return alarms[logical_id(alarms, prefix)]


def _function_id(template: Template, name: str) -> str:
    return logical_id(template.find_resources("AWS::Lambda::Function"), f"{name}Function")


def _environment(template: Template, name: str) -> dict[str, Any]:
    function = template.find_resources("AWS::Lambda::Function")[_function_id(template, name)]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def _dashboard(template: Template) -> dict[str, Any]:
    """The dashboard body as JSON, each CloudFormation reference replaced by the logical id it names."""
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    _, parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"]
    text = "".join(part if isinstance(part, str) else _token(part) for part in parts)
    body: dict[str, Any] = json.loads(text)
    return body


def _token(reference: dict[str, Any]) -> str:
    if "Ref" in reference:
        return str(reference["Ref"])
    logical, attribute = reference["Fn::GetAtt"]
    return f"{logical}.{attribute}"


def _dashboard_metrics(template: Template) -> set[tuple[str, ...]]:
    """(namespace, metric name, dimension values...) of every graphed metric."""
    return {
        tuple(part for part in metric if isinstance(part, str))
        for widget in _dashboard(template)["widgets"]
        for metric in widget["properties"].get("metrics", [])
    }


def test_every_alarm_notifies_the_operator_and_links_its_runbook_section(template: Template) -> None:
    topic_id = logical_id(template.find_resources("AWS::SNS::Topic"), "AlertsTopic")
    sections = {
        re.sub(r"[^a-z0-9-]", "", line.lstrip("#").strip().lower().replace(" ", "-"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }

    for name, alarm in _alarms(template).items():
        (anchor,) = re.findall(r"docs/operations\.md#([\w-]+)", alarm["AlarmDescription"])
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert anchor in sections, f"{name}: no section #{anchor} in {RUNBOOK.name}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_alarms_on_its_hourly_error_rate(template: Template, function: str) -> None:
    alarm = _alarm(template, f"Alerts{function}Errors")
    metrics = {query["Id"]: query for query in alarm["Metrics"]}
    (expression,) = [query for query in alarm["Metrics"] if "Expression" in query]

    assert expression["Expression"] == "IF(invocations > 0, 100 * errors / invocations, 0)"
    assert expression["ReturnData"] is True
    for query_id, metric_name in (("errors", "Errors"), ("invocations", "Invocations")):
        stat = metrics[query_id]["MetricStat"]
        assert stat["Metric"]["MetricName"] == metric_name
        assert stat["Metric"]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": _function_id(template, function)}}
        ]
        assert (stat["Period"], stat["Stat"]) == (3600, "Sum")
    assert alarm["Threshold"] == ERROR_RATE_THRESHOLD_PERCENT
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_stale_connections_alarm_watches_what_the_scheduler_emits(template: Template) -> None:
    alarm = _alarm(template, "AlertsStaleConnections")
    scheduler = _environment(template, "Scheduler")

    # The metric is the scheduler's own: Powertools names the `service` dimension after the function.
    assert alarm["Namespace"] == METRICS_NAMESPACE == scheduler["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["MetricName"] == STALE_CONNECTIONS_METRIC
    assert alarm["Dimensions"] == [{"Name": "service", "Value": scheduler["POWERTOOLS_SERVICE_NAME"]}]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Maximum", 3600, 0)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert str(STALE_AFTER_HOURS) in alarm["AlarmDescription"]


def test_scheduler_is_told_the_same_staleness_as_the_alarm(template: Template) -> None:
    variables = {key: value for key, value in _environment(template, "Scheduler").items() if isinstance(value, str)}

    settings = Settings.from_env(variables)

    assert settings.stale_after_hours == STALE_AFTER_HOURS


def test_collectors_together_keep_within_cloudwatch_s_getmetricdata_quota(template: Template) -> None:
    variables = {key: value for key, value in _environment(template, "Collector").items() if isinstance(value, str)}

    rate = Settings.from_env(variables).metric_data_requests_per_second

    # Each container paces one account's region at the quota over the most containers that may collect at once.
    assert rate == CLOUDWATCH_GET_METRIC_DATA_TPS / COLLECTOR_CONSUMER.max_concurrency
    assert rate * COLLECTOR_CONSUMER.max_concurrency <= CLOUDWATCH_GET_METRIC_DATA_TPS
    assert rate < Settings().metric_data_requests_per_second
    assert Settings.env_name(COLLECTOR_METRIC_DATA_SETTINGS_FIELD) in variables
    for other in ("Scheduler", "Calculator", "Api"):
        assert Settings.env_name(COLLECTOR_METRIC_DATA_SETTINGS_FIELD) not in _environment(template, other)


def test_a_scheduler_that_stops_running_alarms(template: Template) -> None:
    alarm = _alarm(template, "AlertsSchedulerSilent")

    # No invocation means no data point at all, so missing data must count as breaching.
    assert alarm["TreatMissingData"] == "breaching"
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == ("Invocations", "Sum", 3600)
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": _function_id(template, "Scheduler")}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["EvaluationPeriods"] == SCHEDULER_SILENT_HOURS


def test_failed_scheduler_runs_alarm_and_have_a_runbook(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    alarm = _alarm(template, "AlertsSchedulerDeadLetters")

    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id(queues, "SchedulerDeadLetterQueue"), "QueueName"]}}
    ]
    assert "docs/operations.md#schedulerdeadletters" in alarm["AlarmDescription"]
    assert "### SchedulerDeadLetters" in RUNBOOK.read_text()


def test_dashboard_shows_every_alarm(template: Template) -> None:
    (alarm_widget,) = [w for w in _dashboard(template)["widgets"] if w["type"] == "alarm"]

    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(f"{name}.Arn" for name in _alarms(template))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_dashboard_graphs_each_function(template: Template, function: str) -> None:
    function_id = _function_id(template, function)

    assert {
        ("AWS/Lambda", name, "FunctionName", function_id) for name in ("Invocations", "Errors", "Duration")
    } <= _dashboard_metrics(template)


def test_dashboard_graphs_queue_and_dead_letter_depth(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    graphed = _dashboard_metrics(template)

    for queue in (
        "CollectQueue",
        "CollectDeadLetterQueue",
        "CalculateQueue",
        "CalculateDeadLetterQueue",
        "SchedulerDeadLetterQueue",
    ):
        queue_name = f"{logical_id(queues, queue)}.QueueName"
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name) in graphed, queue


def test_dashboard_graphs_the_carbonmeter_metrics(template: Template) -> None:
    collector = _environment(template, "Collector")["POWERTOOLS_SERVICE_NAME"]
    scheduler = _environment(template, "Scheduler")["POWERTOOLS_SERVICE_NAME"]
    graphed = _dashboard_metrics(template)

    for name in (*COLLECTOR_COUNT_METRICS, COLLECTOR_DURATION_METRIC):
        assert (METRICS_NAMESPACE, name, "service", collector) in graphed, name
    assert (METRICS_NAMESPACE, STALE_CONNECTIONS_METRIC, "service", scheduler) in graphed
    # One series per metric: nothing per connection, which would cost one custom metric per customer.
    assert all(len(metric) == 4 for metric in graphed if metric[0] == METRICS_NAMESPACE)


def test_dashboard_link_is_an_output(template: Template) -> None:
    outputs = template.find_outputs("DashboardUrl")
    dashboard_id = logical_id(template.find_resources("AWS::CloudWatch::Dashboard"), "Operations")

    (output,) = outputs.values()
    assert {"Ref": dashboard_id} in output["Value"]["Fn::Join"][1]
