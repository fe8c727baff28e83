"""An anomaly through the real calculator on the embedded AWS, under its deployed IAM policy: stored, alerted once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from carbonmeter import cli
from carbonmeter.insights.anomalies.records import AlertState
from carbonmeter.insights.anomalies.watch import connection_anomalies
from carbonmeter.models import HOUR, CalculateJob, hour_key
from carbonmeter.scheduling import enqueue
from carbonmeter.store import UsageStore
from devtools.aws.iam import DeployedPolicies, synthesized_templates
from devtools.aws.pipeline import LocalPipeline
from tests.support.local_cloud import CONNECTION, register
from tests.support.records import ec2_usage

NORMAL = 2
JUMPED = 12


def _store_usage(cloud, hour, instances: int) -> None:
    records = [
        ec2_usage(
            connection_id=CONNECTION,
            hour=hour,
            resource_id=f"i-{n:03d}",
            resource_type="m5.xlarge",
            vcpus=4,
            memory_gib=16,
            cpu_utilization_pct=60.0,
        )
        for n in range(instances)
    ]
    UsageStore(cloud.clients, cloud.settings.usage_table).replace_hour(CONNECTION, hour, records)


def _calculate(cloud, handlers_on, hours, pipeline=None) -> int:
    """Queue and drain the calculations of ``hours`` (one attempt each); the number of jobs that failed."""
    assert cloud.settings.calculate_queue_url
    jobs = [CalculateJob(connection_id=CONNECTION, hour=h) for h in hours]
    enqueue(cloud.clients, cloud.settings.calculate_queue_url, jobs)
    with handlers_on(cloud):
        drained = (pipeline or cloud.pipeline).drain_calculate(max_batches=1)
    if drained.failed:
        cloud.clients.client("sqs").purge_queue(QueueUrl=cloud.settings.calculate_queue_url)
    return drained.failed


def _jump(cloud) -> tuple[datetime, datetime]:
    """Yesterday: 2 instances an hour for four hours; today: 12, the same four hours. Returns both starts."""
    today = cloud.hours[-1] - 6 * HOUR
    yesterday = today - timedelta(days=1)
    for k in range(4):
        _store_usage(cloud, yesterday + k * HOUR, NORMAL)
        _store_usage(cloud, today + k * HOUR, JUMPED)
    return yesterday, today


def _inbox(cloud) -> str:
    sqs = cloud.clients.client("sqs")
    url = sqs.create_queue(QueueName="anomaly-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    cloud.clients.client("sns").subscribe(TopicArn=cloud.settings.anomaly_topic_arn, Protocol="sqs", Endpoint=arn)
    return str(url)


def _alerts(cloud, inbox: str) -> list[dict]:
    sqs = cloud.clients.client("sqs")
    found = []
    while messages := sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=m["ReceiptHandle"])
    return found


def test_a_jump_in_instances_is_stored_alerted_once_and_listed(local_cloud, handlers_on, capsys):
    # Given a connection whose EC2 in us-east-1 ran 2 instances yesterday and 12 for four hours today
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION)
    inbox = _inbox(cloud)
    yesterday, today = _jump(cloud)
    # When the calculator (its deployed policy enforced) calculates yesterday's hours, then today's, then today's again
    assert _calculate(cloud, handlers_on, [yesterday + k * HOUR for k in range(4)]) == 0
    assert _calculate(cloud, handlers_on, [today + k * HOUR for k in range(4)]) == 0
    assert _calculate(cloud, handlers_on, [today + k * HOUR for k in range(4)]) == 0
    # Then two anomalies are stored from the jump's first hour, CO2e and count, both up
    found = connection_anomalies(cloud.clients, cloud.settings, CONNECTION, yesterday, today + 4 * HOUR)
    assert sorted((a.kind, a.direction, a.start, a.end) for a in found) == [
        ("emissions", "up", today, today + 4 * HOUR),
        ("resources", "up", today, today + 4 * HOUR),
    ]
    resources = next(a for a in found if a.kind == "resources")
    assert (resources.expected, resources.observed) == (NORMAL, JUMPED)
    # and each was published once, however often its hours were calculated, with no call refused by IAM
    assert sorted(alert["Subject"] for alert in _alerts(cloud, inbox)) == [
        "CarbonMeter anomaly: demo ec2 us-east-1 CO2e up",
        "CarbonMeter anomaly: demo ec2 us-east-1 resource count up",
    ]
    assert cloud.pipeline.guard.denials == []
    # and the CLI lists them
    window = ["--since", hour_key(yesterday), "--until", hour_key(today + 4 * HOUR)]
    assert cli.main(["anomalies", "--connection-id", CONNECTION, *window]) == 0
    out = capsys.readouterr().out
    assert "ec2/us-east-1" in out
    assert "2 anomalies" in out


def test_without_its_publish_grant_the_calculation_fails_and_the_alert_waits(local_cloud, handlers_on):
    # Given the calculator deployed without sns:Publish
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION)
    yesterday, today = _jump(cloud)
    policies = DeployedPolicies.of(synthesized_templates(), cloud.settings, cloud.account.account_id)
    refused = LocalPipeline(
        cloud.clients, cloud.settings, cloud.account.account_id, policies=policies.without("calculator", "sns:Publish")
    )
    assert _calculate(cloud, handlers_on, [yesterday + k * HOUR for k in range(4)], refused) == 0
    # When the hour that completes the anomaly is calculated
    failed = _calculate(cloud, handlers_on, [today + k * HOUR for k in range(3)], refused)
    # Then its calculation fails (to be retried) and both anomalies wait, pending, for the retry to publish them
    assert failed >= 1
    assert any(denial.action == "sns:Publish" for denial in refused.guard.denials)
    found = connection_anomalies(cloud.clients, cloud.settings, CONNECTION, today, today + 4 * HOUR)
    assert found
    assert {a.alert for a in found} == {AlertState.PENDING}


def test_the_cli_refuses_an_unknown_connection_and_an_empty_window_in_one_line(local_cloud, capsys):
    cloud = local_cloud(hours=1)
    register(cloud, CONNECTION)
    assert cli.main(["anomalies", "--connection-id", "nobody"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip() == "error: no connection named 'nobody'"
    hour = hour_key(cloud.hours[0])
    assert cli.main(["anomalies", "--connection-id", CONNECTION, "--since", hour, "--until", hour]) == cli.EXIT_USAGE
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: the window must end after it starts")
