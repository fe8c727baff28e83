import json
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.models import Connection
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.scheduling import SchedulingError
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore
from devtools.aws.lambda_events import LambdaContext, scheduled_event
from devtools.aws.resources import create_resources
from functions.collector.handler import handler as collector_handler
from functions.scheduler.handler import handler

CONTEXT = LambdaContext(function_name="carbonmeter-scheduler")


@pytest.fixture
def deployed(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        settings = create_resources(factory, factory.settings)
        factory = ClientFactory(settings=settings)
        connections = ConnectionStore(factory, settings.connections_table)
        for name, enabled in (("alpha", True), ("beta", True), ("gamma", False)):
            connections.put(
                Connection(
                    connection_id=name,
                    role_arn="arn:aws:iam::123456789012:role/CarbonMeterReadOnly",
                    external_id=f"ext-{name}",
                    regions=("us-east-1",),
                    enabled=enabled,
                )
            )
        with use_runtime(Runtime(settings=settings, clients=factory)):
            yield factory


def _queued(factory: ClientFactory) -> list[dict]:
    sqs = factory.client("sqs")
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=factory.settings.collect_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=factory.settings.collect_queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_hourly_rule_queues_the_previous_hour_for_each_enabled_connection(deployed):
    # Given three connections, one disabled; When the rule fires at 10:12:12, once 09:00-10:00 has settled
    fired_at = datetime(2026, 11, 23, 10, 12, 12, tzinfo=UTC)
    event = scheduled_event(fired_at, "arn:aws:events:::rule/r", "1", "us-east-1")
    with use_runtime(Runtime(settings=deployed.settings, clients=deployed, clock=lambda: fired_at)):
        result = handler(event, CONTEXT)
    # Then 09:00 is queued once for each enabled connection
    assert result == {"jobs": 2, "connections": 2, "start": "2026-11-23T09:00:00Z", "end": "2026-11-23T10:00:00Z"}
    assert sorted(_queued(deployed), key=lambda b: b["connection_id"]) == [
        {"connection_id": "alpha", "hour": "2026-11-23T09:00:00Z"},
        {"connection_id": "beta", "hour": "2026-11-23T09:00:00Z"},
    ]


def test_manual_backfill_queues_every_hour_of_the_window_in_batches_of_ten(deployed):
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
    event = {
        "connection_ids": ["alpha", "beta"],
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (start + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    result = handler(event, CONTEXT)
    assert result["jobs"] == 24
    queued = _queued(deployed)
    hours = [b for b in queued if "hour" in b]
    assert len(hours) == 24
    assert len({(b["connection_id"], b["hour"]) for b in hours}) == 24
    # Beside the hours, one job per connection fetches the window's days of spend (docs/insights.md).
    assert sorted(b["connection_id"] for b in queued if b.get("kind") == "cost") == ["alpha", "beta"]
    assert deployed.counter.calls["sqs:SendMessageBatch"] == 4


def test_a_backfill_answer_counts_the_hours_before_carbonmeter_first_looked_at_the_account(deployed):
    # Given alpha first collected (its inventory begins) at 12:10 yesterday, beta never collected yet
    now = datetime.now(UTC)
    first_look = now.replace(minute=10, second=0, microsecond=0) - timedelta(hours=24)
    ConnectionStore(deployed, deployed.settings.connections_table).record_success(
        "alpha", first_look - timedelta(hours=1, minutes=10), inventory_since=first_look
    )
    start = first_look.replace(minute=0) - timedelta(hours=6)
    event = {"connection_ids": ["alpha", "beta"], "start": _iso(start), "end": _iso(start + timedelta(hours=10))}
    # When both are backfilled over the ten hours around alpha's first look
    result = handler(event, CONTEXT)
    # Then the answer counts alpha's hours that ended over an hour before its first look (a terminated instance
    # stays listed about an hour): 5 of the 10; and all ten of beta's, which this backfill looks at first
    assert result["jobs"] == 20
    assert result["hours_before_first_look"] == 5 + 10


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"connection_ids": ["alpha"], "start": "2026-11-20T00:15:00Z", "end": "2026-11-20T02:00:00Z"}, "whole hour"),
        ({"connection_ids": ["nobody"], "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T02:00:00Z"}, "unknown"),
        ({"connection_ids": ["gamma"], "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T02:00:00Z"}, "disabled"),
        ({"connection_ids": ["alpha"], "start": "2030-01-01T00:00:00Z", "end": "2030-01-01T02:00:00Z"}, "future"),
        ({"connection_ids": ["alpha"], "start": "2020-01-01T00:00:00Z", "end": "2021-01-01T00:00:00Z"}, "455 days"),
        ({"connection_ids": "alpha", "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T02:00:00Z"}, "list"),
    ],
)
def test_bad_manual_events_fail_with_the_reason_and_queue_nothing(deployed, event, reason):
    with pytest.raises(SchedulingError, match=reason):
        handler(event, CONTEXT)
    assert _queued(deployed) == []


def test_a_long_backfill_is_queued_as_chunks_that_the_collector_expands(deployed):
    # Given chunks of two hours (a week in production)
    settings = deployed.settings.model_copy(update={"backfill_chunk_hours": 2})
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
    event = {
        "connection_ids": ["alpha"],
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (start + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with use_runtime(Runtime(settings=settings, clients=deployed)):
        # When the scheduler takes the 5-hour backfill
        assert handler(event, CONTEXT)["jobs"] == 5
        # (the window's cost job, queued beside them, is tested above)
        chunks = [body for body in _queued(deployed) if "kind" not in body]
        # Then three chunks are queued, not five jobs
        assert [(c["start"], c["end"]) for c in chunks] == [
            (_iso(start), _iso(start + timedelta(hours=2))),
            (_iso(start + timedelta(hours=2)), _iso(start + timedelta(hours=4))),
            (_iso(start + timedelta(hours=4)), _iso(start + timedelta(hours=5))),
        ]
        # And the collector turns each chunk into its hours' jobs
        records = [
            {"messageId": str(i), "receiptHandle": "r", "body": json.dumps(chunk), "attributes": SQS_ATTRIBUTES,
             "messageAttributes": {}, "md5OfBody": "0" * 32, "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:carbonmeter-collect", "awsRegion": "us-east-1"}
            for i, chunk in enumerate(chunks)
        ]  # fmt: skip
        assert collector_handler({"Records": records}, CONTEXT) == {"batchItemFailures": []}
    jobs = _queued(deployed)
    assert sorted(job["hour"] for job in jobs) == [_iso(start + timedelta(hours=n)) for n in range(5)]


def _iso(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%dT%H:%M:%SZ")


SQS_ATTRIBUTES = {
    "ApproximateReceiveCount": "1",
    "SentTimestamp": "0",
    "SenderId": "AIDAEXAMPLE",
    "ApproximateFirstReceiveTimestamp": "0",
}
