"""Every message type, at every entry point, refuses hours that have not ended and settled; failures are visible.

A review queued 72 future hours with an edited scheduled event, stored a collect job 30 days ahead and a
backfill chunk for tomorrow as collected, expanded a 60-day chunk for an unknown connection, and found
that a failed SQS record left no line at ERROR. Each test here failed before the fix.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.models import Connection, SchedulePage, hour_key
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.scheduling import SchedulingError
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore, UsageStore
from devtools.aws.lambda_events import LambdaContext, scheduled_event, sqs_event
from devtools.aws.resources import create_resources
from functions.calculator.handler import handler as calculator
from functions.collector.handler import handler as collector
from functions.scheduler.handler import handler as scheduler
from tests.support.aws_hooks import refuse_when

NOW = datetime(2026, 11, 23, 14, 20, tzinfo=UTC)
SETTLED = datetime(2026, 11, 23, 13, tzinfo=UTC)  # the last hour that may be collected at NOW
CONNECTION = "alpha"
PAGE_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:carbonmeter-schedule-pages"


@pytest.fixture
def deployed(aws_credentials: None) -> Iterator[ClientFactory]:
    """CarbonMeter's tables and queues, one enabled connection, and the handlers' clock at NOW."""
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        settings = create_resources(factory, factory.settings)
        factory = ClientFactory(settings=settings)
        ConnectionStore(factory, settings.connections_table).put(
            Connection(
                connection_id=CONNECTION,
                role_arn="arn:aws:iam::123456789012:role/CarbonMeterReadOnly",
                external_id="ext-alpha-0123456789",
                regions=("us-east-1",),
                created_at=NOW - timedelta(days=10),
            )
        )
        with use_runtime(Runtime(settings=settings, clients=factory, clock=lambda: NOW)):
            yield factory


def _sqs_event(*bodies: Any) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": "r",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "A",
                               "ApproximateFirstReceiveTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:carbonmeter-collect",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }  # fmt: skip


def _queued(factory: ClientFactory, queue_url: str | None) -> int:
    assert queue_url
    attributes = factory.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _failed(handler: Any, event: dict[str, Any], context: LambdaContext) -> list[str]:
    """The messages SQS gets back: those reported failed, or all of them when the whole batch failed."""
    try:
        response = handler(event, context)
    except BatchProcessingError:
        return [record["messageId"] for record in event["Records"]]
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


CONTEXT = LambdaContext(function_name="carbonmeter-collector")


def _error_lines(caplog: pytest.LogCaptureFixture) -> list[Any]:
    """The failed-message lines (Powertools' tracer adds its own when a whole batch fails)."""
    return [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "carbonmeter.batch"]


def test_an_edited_scheduled_event_from_the_future_queues_nothing(deployed):
    # Given an operator's hand-edited event three days ahead
    event = scheduled_event(NOW + timedelta(days=3), "arn:aws:events:::rule/r", "1", "us-east-1")
    # When the scheduler runs, its clock says NOW: Then it refuses and queues nothing
    with pytest.raises(SchedulingError, match="ahead of the clock"):
        scheduler(event, CONTEXT)
    assert _queued(deployed, deployed.settings.collect_queue_url) == 0


def _planned_hours(factory: ClientFactory, event: dict[str, Any]) -> list[str]:
    """The hours the scheduler queues for ``event``: its hourly run, then the page it sent, delivered to it."""
    scheduler(event, CONTEXT)
    sqs = factory.client("sqs")
    pages = sqs.receive_message(QueueUrl=factory.settings.page_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert _failed(scheduler, sqs_event(pages, PAGE_QUEUE_ARN, "us-east-1"), CONTEXT) == []
    hours = []
    while messages := sqs.receive_message(QueueUrl=factory.settings.collect_queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        hours += [json.loads(message["Body"])["hour"] for message in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=factory.settings.collect_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return sorted(hours)


def test_the_hourly_run_takes_its_hour_from_the_clock_not_from_the_event(deployed):
    # Given an event stamped a day late (EventBridge retried it), when the scheduler runs at NOW
    event = scheduled_event(NOW - timedelta(days=1), "arn:aws:events:::rule/r", "1", "us-east-1")
    hours = _planned_hours(deployed, event)
    # Then it queues the look-back up to the last settled hour of NOW, and nothing later
    assert hours[-1] == hour_key(SETTLED)
    assert len(hours) == 72


def test_a_schedule_page_planned_for_a_moment_ahead_of_the_clock_queues_nothing(deployed):
    # Given a page message naming a reference three days ahead (edited, or forged)
    ahead = NOW + timedelta(days=3)
    connection = ConnectionStore(deployed, deployed.settings.connections_table).schedule(CONNECTION)
    page = SchedulePage(reference=ahead, lookback_end=ahead.replace(minute=0), page=0, connections=(connection,))
    # When the scheduler takes it from its page queue, its clock at NOW: Then the page fails, nothing queued
    assert _failed(scheduler, _sqs_event(page.model_dump(mode="json")), CONTEXT) == ["m-0"]
    assert _queued(deployed, deployed.settings.collect_queue_url) == 0


def test_an_hour_is_not_collected_until_it_has_settled(deployed):
    # Given the rule firing five minutes after 14:00, inside the settling delay of 13:00-14:00
    early = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
    with use_runtime(Runtime(settings=deployed.settings, clients=deployed, clock=lambda: early)):
        hours = _planned_hours(deployed, scheduled_event(early, "arn:aws:events:::rule/r", "1", "us-east-1"))
    # Then the last hour queued is 12:00-13:00; 13:00 waits for the next run
    assert hours[-1] == hour_key(SETTLED - timedelta(hours=1))


@pytest.mark.parametrize(
    "body",
    [
        {"connection_id": CONNECTION, "hour": hour_key(NOW + timedelta(days=30))},
        {"connection_id": CONNECTION, "hour": hour_key(SETTLED + timedelta(hours=1))},
        {
            "connection_id": CONNECTION,
            "start": hour_key(NOW + timedelta(days=1)),
            "end": hour_key(NOW + timedelta(days=2)),
        },
    ],
    ids=["collect-job-30-days-ahead", "collect-job-not-settled", "backfill-chunk-for-tomorrow"],
)
def test_the_collector_refuses_hours_that_have_not_settled_and_writes_nothing(deployed, body, caplog):
    # When the collector receives the message
    with caplog.at_level(logging.ERROR):
        failed = _failed(collector, _sqs_event(body), CONTEXT)
    # Then it is failed for SQS to retry (and park), nothing is stored or queued,
    assert failed == ["m-0"]
    hour = datetime.fromisoformat(body.get("hour") or body["start"])
    assert StatusStore(deployed, deployed.settings.usage_table).get(CONNECTION, hour) is None
    assert UsageStore(deployed, deployed.settings.usage_table).read_hour(CONNECTION, hour) == []
    assert _queued(deployed, deployed.settings.collect_queue_url) == 0
    # And one ERROR line names the message, the connection, the hour and the cause; the connection says why
    (line,) = _error_lines(caplog)
    assert (line.message_id, line.connection_id, line.hour) == ("m-0", CONNECTION, hour_key(hour))
    assert "settling delay" in line.error
    connection = ConnectionStore(deployed, deployed.settings.connections_table).get(CONNECTION)
    assert "settling delay" in (connection.last_error or "")


def test_the_calculator_refuses_hours_that_have_not_settled(deployed, caplog):
    body = {"connection_id": CONNECTION, "hour": hour_key(NOW + timedelta(hours=5))}
    with caplog.at_level(logging.ERROR):
        failed = _failed(calculator, _sqs_event(body), LambdaContext(function_name="carbonmeter-calculator"))
    assert failed == ["m-0"]
    (line,) = _error_lines(caplog)
    assert "settling delay" in line.error


@pytest.mark.parametrize(
    ("connection_id", "days", "reason"),
    [("ghost", 60, "no connection named 'ghost'"), (CONNECTION, 60, "1 to 168 hours, this one 1440")],
)
def test_a_backfill_chunk_the_scheduler_could_not_have_made_is_refused(deployed, connection_id, days, reason, caplog):
    # Given a 60-day chunk (the scheduler's are at most 168 hours), for an unknown or a known connection
    start = SETTLED - timedelta(days=days)
    body = {"connection_id": connection_id, "start": hour_key(start), "end": hour_key(SETTLED)}
    with caplog.at_level(logging.ERROR):
        failed = _failed(collector, _sqs_event(body), CONTEXT)
    # Then not one of its 1,440 jobs is queued, and the ERROR line says why
    assert failed == ["m-0"]
    assert _queued(deployed, deployed.settings.collect_queue_url) == 0
    (line,) = _error_lines(caplog)
    assert reason in line.error


def test_a_message_that_cannot_be_parsed_is_logged_and_leaves_a_trace_on_its_connection(deployed, caplog):
    # Given one good message and one whose hour is not a whole hour, in the same batch
    good = {"connection_id": "ghost", "hour": hour_key(SETTLED)}
    bad = json.dumps({"connection_id": CONNECTION, "hour": "2026-11-23T10:30:00Z"})
    with caplog.at_level(logging.ERROR):
        failed = _failed(collector, _sqs_event(bad, good, "not json"), CONTEXT)
    # Then each failed record logs one ERROR line with its message id (and its connection when it names one)
    assert sorted(failed) == ["m-0", "m-1", "m-2"]
    lines = {r.message_id: r for r in _error_lines(caplog)}
    assert sorted(lines) == ["m-0", "m-1", "m-2"]
    assert lines["m-0"].connection_id == CONNECTION
    assert "whole hour" in lines["m-0"].error
    assert "no connection named 'ghost'" in lines["m-1"].error
    assert lines["m-2"].connection_id is None
    # And the connection the unreadable message names shows it in its last error
    connection = ConnectionStore(deployed, deployed.settings.connections_table).get(CONNECTION)
    assert "message m-0 refused" in (connection.last_error or "")


def test_the_scheduler_never_reads_roles_or_external_ids(deployed):
    # Given the scheduler's calls to the connections table, watched as DynamoDB receives them
    reads: list[dict[str, Any]] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        reads.append(dict(params))

    clients = ClientFactory(
        settings=deployed.settings,
        hooks=[("before-parameter-build.dynamodb.Scan", watch), ("before-parameter-build.dynamodb.GetItem", watch)],
    )
    backfill = {
        "connection_ids": [CONNECTION],
        "start": hour_key(SETTLED - timedelta(hours=2)),
        "end": hour_key(SETTLED),
    }
    # When it runs the hourly schedule and a backfill
    with use_runtime(Runtime(settings=deployed.settings, clients=clients, clock=lambda: NOW)):
        scheduler(scheduled_event(NOW, "arn:aws:events:::rule/r", "1", "us-east-1"), CONTEXT)
        scheduler(backfill, CONTEXT)
    # Then every read of a connection projects the attributes it needs, and neither the role nor the ExternalId
    assert {params.get("TableName") for params in reads} == {deployed.settings.connections_table}
    for params in reads:
        projected = set(params["ExpressionAttributeNames"].values())
        assert projected >= {"connection_id", "enabled", "created_at"}
        assert not projected & {"external_id", "role_arn"}


def test_a_dynamodb_error_during_collection_leaves_its_trace_on_the_connection(deployed, caplog):
    # Given the usage table refusing the hour's status update
    usage_table = deployed.settings.usage_table

    refuse = refuse_when(
        "before-call.dynamodb.UpdateItem", f'"{usage_table}"', "ValidationException", "status item too large", 400
    )
    clients = ClientFactory(settings=deployed.settings, hooks=[refuse])
    body = {"connection_id": CONNECTION, "hour": hour_key(SETTLED)}
    # When the collector takes the hour
    runtime = Runtime(settings=deployed.settings, clients=clients, clock=lambda: NOW)
    with use_runtime(runtime), caplog.at_level(logging.ERROR):
        failed = _failed(collector, _sqs_event(body), CONTEXT)
    # Then the message is retried, one ERROR line names the cause, and so does the connection
    assert failed == ["m-0"]
    (line,) = _error_lines(caplog)
    assert "ValidationException" in line.error
    connection = ConnectionStore(deployed, deployed.settings.connections_table).get(CONNECTION)
    assert "ValidationException" in (connection.last_error or "")
