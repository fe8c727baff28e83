import json
from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.models import Connection
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.scheduling import SchedulingError
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore
from devtools.aws.lambda_events import LambdaContext, scheduled_event, sqs_event
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


def _received(factory: ClientFactory, queue_url: str | None) -> list[dict]:
    """Every message on the queue, removed from it."""
    assert queue_url
    sqs, messages = factory.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def _queued(factory: ClientFactory) -> list[dict]:
    return [json.loads(message["Body"]) for message in _received(factory, factory.settings.collect_queue_url)]


FIRED_AT = datetime(2026, 11, 23, 10, 12, 12, tzinfo=UTC)


def _fire(factory: ClientFactory, fired_at: datetime = FIRED_AT) -> tuple[dict, list[dict]]:
    """The hourly rule's invocation at ``fired_at``; its answer and the page messages it sent."""
    event = scheduled_event(fired_at, "arn:aws:events:::rule/r", "1", "us-east-1")
    with use_runtime(Runtime(settings=factory.settings, clients=factory, clock=lambda: fired_at)):
        return handler(event, CONTEXT), _received(factory, factory.settings.page_queue_url)


def _plan(factory: ClientFactory, pages: list[dict], fired_at: datetime = FIRED_AT) -> dict:
    """The page queue's event source delivering ``pages`` to the scheduler."""
    event = sqs_event(pages, "arn:aws:sqs:us-east-1:123456789012:carbonmeter-schedule-pages", "us-east-1")
    with use_runtime(Runtime(settings=factory.settings, clients=factory, clock=lambda: fired_at)):
        answer: dict = handler(event, CONTEXT)
    return answer


def test_hourly_rule_queues_the_previous_hour_for_each_enabled_connection(deployed):
    # Given three connections, one disabled; When the rule fires at 10:12:12, once 09:00-10:00 has settled
    result, pages = _fire(deployed)
    # Then the two enabled connections go out in one page
    assert result == {"pages": 1, "connections": 2}
    assert len(pages) == 1
    # When the page is delivered to the scheduler
    assert _plan(deployed, pages) == {"batchItemFailures": []}
    # Then 09:00 is queued once for each enabled connection
    assert sorted(_queued(deployed), key=lambda b: b["connection_id"]) == [
        {"connection_id": "alpha", "hour": "2026-11-23T09:00:00Z"},
        {"connection_id": "beta", "hour": "2026-11-23T09:00:00Z"},
    ]


def test_a_page_delivered_again_or_sent_again_by_a_retried_run_of_the_hour_queues_nothing_more(deployed):
    # Given the hour's page, planned once
    _, pages = _fire(deployed)
    _plan(deployed, pages)
    assert len(_queued(deployed)) == 2
    # When SQS delivers it a second time, and the rule's retry of the run sends the same page a minute later
    _plan(deployed, pages)
    _, resent = _fire(deployed, FIRED_AT + timedelta(minutes=1))
    _plan(deployed, resent, FIRED_AT + timedelta(minutes=1))
    # Then nothing more is queued: the page's claim says it was planned
    assert _queued(deployed) == []


def test_the_next_hours_page_is_planned_again(deployed):
    # Given the hour's page planned, its jobs not collected yet
    _, pages = _fire(deployed)
    _plan(deployed, pages)
    _queued(deployed)
    # When the rule fires an hour later
    later = FIRED_AT + timedelta(hours=1)
    _, pages = _fire(deployed, later)
    _plan(deployed, pages, later)
    # Then its new hour is queued for each connection: the claim was the last hour's look-back's
    assert sorted((b["connection_id"], b["hour"]) for b in _queued(deployed)) == [
        ("alpha", "2026-11-23T10:00:00Z"),
        ("beta", "2026-11-23T10:00:00Z"),
    ]


def test_a_page_that_fails_is_delivered_again_and_planned_then(deployed):
    # Given the hour's page, and the collect queue unreachable
    _, pages = _fire(deployed)
    working = deployed.settings
    broken = working.model_copy(update={"collect_queue_url": working.collect_queue_url + "-gone"})
    # When the page is delivered, Then the invocation fails (its one page failed): SQS delivers it again
    with use_runtime(Runtime(settings=broken, clients=deployed, clock=lambda: FIRED_AT)):
        event = sqs_event(pages, "arn:aws:sqs:us-east-1:123456789012:carbonmeter-schedule-pages", "us-east-1")
        with pytest.raises(BatchProcessingError, match="All records failed"):
            handler(event, CONTEXT)
    assert _queued(deployed) == []
    # And when it is delivered again, the queue back, it is planned: a failed page leaves no claim
    assert _plan(deployed, pages) == {"batchItemFailures": []}
    assert len(_queued(deployed)) == 2


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
