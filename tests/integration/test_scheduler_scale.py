"""The hourly run at many connections: statuses read and jobs sent several requests at a time, with the same
outcome as one at a time; nothing lost or sent twice, and a refused send still reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.models import SCHEDULE_ATTRIBUTES, CollectJob, Connection
from carbonmeter.scheduling import enqueue, run_hourly
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore
from devtools import scheduler_scale
from devtools.aws.resources import create_resources

NOW = datetime(2026, 11, 23, 10, 12, 12, tzinfo=UTC)
CONNECTIONS = 45


@pytest.fixture
def deployed(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings(lookback_hours=4))
        settings = create_resources(factory, factory.settings)
        factory = ClientFactory(settings=settings)
        store, statuses = (
            ConnectionStore(factory, settings.connections_table),
            StatusStore(factory, settings.usage_table),
        )
        for n in range(CONNECTIONS):
            store.put(
                Connection(
                    connection_id=f"c{n:03d}",
                    role_arn="arn:aws:iam::123456789012:role/CarbonMeterReadOnly",
                    external_id=f"ext-{n}",
                    regions=("us-east-1",),
                    created_at=datetime(2026, 11, 22, tzinfo=UTC),
                )
            )
            # Every third connection already has the look-back's second hour collected
            if n % 3 == 0:
                statuses.record(f"c{n:03d}", datetime(2026, 11, 23, 7, tzinfo=UTC), ["ec2/us-east-1"], {}, {})
        yield factory


def _drain(factory: ClientFactory, queue_url: str) -> list[dict]:
    sqs, bodies = factory.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _jobs(bodies: list[dict]) -> list[tuple[str, str]]:
    return sorted((body["connection_id"], body["hour"]) for body in bodies)


def test_statuses_read_and_jobs_sent_many_at_a_time_queue_what_one_at_a_time_queues(deployed):
    runs = {}
    for workers in (1, 8):
        settings = deployed.settings.model_copy(update={"scheduler_workers": workers})
        run = run_hourly(deployed, settings, NOW, NOW)
        runs[workers] = (run, _jobs(_drain(deployed, settings.collect_queue_url)))
    (one_run, one_jobs), (many_run, many_jobs) = runs[1], runs[8]
    # Every connection's missing hours of the look-back, each exactly once, whatever the workers
    assert many_jobs == one_jobs
    assert len(many_jobs) == len(set(many_jobs)) == CONNECTIONS * 4 - len(range(0, CONNECTIONS, 3))
    assert many_run.collect == one_run.collect


def test_the_run_asks_one_scan_page_one_status_query_per_connection_and_one_send_per_ten_jobs(deployed):
    # Given the scheduler's clients, counted, and the Scan's parameters kept
    scans: list[dict] = []
    keep = ("provide-client-params.dynamodb.Scan", lambda params, **_: scans.append(dict(params)))
    counted = ClientFactory(settings=deployed.settings, hooks=[keep])
    # When the hourly run queues every missing hour of the 45 connections
    run = run_hourly(counted, deployed.settings, NOW, NOW)
    # Then its requests are those counts, however many threads sent them
    jobs = CONNECTIONS * 4 - len(range(0, CONNECTIONS, 3))
    assert run.collect.jobs == jobs
    assert counted.counter.calls == {
        "dynamodb:Query": CONNECTIONS,
        "dynamodb:Scan": 1,
        "sqs:SendMessageBatch": -(-jobs // 10),
    }
    # And the Scan reads what the schedule needs, never a role or an ExternalId
    assert sorted(scans[0]["ExpressionAttributeNames"].values()) == sorted(SCHEDULE_ATTRIBUTES)
    assert {"role_arn", "external_id"}.isdisjoint(SCHEDULE_ATTRIBUTES)


def test_the_scan_of_connections_follows_its_pages_of_one_megabyte(deployed):
    # Given 12 more connections of 100 KB each (an attribute the schedule does not read): 1.2 MB in all
    table = deployed.resource("dynamodb").Table(deployed.settings.connections_table)
    for n in range(12):
        item = Connection(
            connection_id=f"big{n:02d}",
            role_arn="arn:aws:iam::123456789012:role/CarbonMeterReadOnly",
            external_id=f"ext-big-{n}",
            regions=("us-east-1",),
            created_at=datetime(2026, 11, 22, tzinfo=UTC),
        ).model_dump(mode="json", exclude_none=True)
        table.put_item(Item={**item, "notes": "n" * 100_000})
    counted = ClientFactory(settings=deployed.settings)
    # When the hourly run reads them
    run = run_hourly(counted, deployed.settings, NOW, NOW)
    # Then two Scan pages (DynamoDB stops a page at 1 MB read, whatever the projection), every connection queued
    assert counted.counter.calls["dynamodb:Scan"] == 2
    assert counted.counter.calls["dynamodb:Query"] == CONNECTIONS + 12
    assert run.collect.connections == CONNECTIONS + 12


class _RefusingSqs:
    """SendMessageBatch that refuses the entries whose body names a refused connection (moto queues them all)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        failed = [{"Id": e["Id"], "Code": "InvalidMessageContents"} for e in Entries if "refused" in e["MessageBody"]]
        self.sent += [e["MessageBody"] for e in Entries if "refused" not in e["MessageBody"]]
        return {"Failed": failed}


class _Clients:
    def __init__(self, sqs: _RefusingSqs) -> None:
        self._sqs = sqs

    def client(self, service: str) -> _RefusingSqs:
        return self._sqs


def test_a_refused_message_fails_the_send_after_every_batch_was_tried():
    # Given 35 jobs, SQS refusing one of them
    hour = datetime(2026, 11, 23, 9, tzinfo=UTC)
    jobs = [CollectJob(connection_id="refused" if n == 12 else f"c{n:03d}", hour=hour) for n in range(35)]
    sqs = _RefusingSqs()
    # When they are sent four batches at a time
    with pytest.raises(RuntimeError, match=r"1 of 35 messages were not queued: InvalidMessageContents"):
        enqueue(_Clients(sqs), "queue", jobs, workers=4)  # type: ignore[arg-type]
    # Then every other job was still sent, once
    assert sorted(sqs.sent) == sorted(job.model_dump_json() for job in jobs if job.connection_id != "refused")


def test_the_scheduler_benchmark_times_the_same_run_both_ways():
    # A few connections, no latency: the figures agree with each other (the timings themselves are no test)
    one, many = scheduler_scale.measure([12], latency_ms=0, workers=4)
    assert (one.connections, one.workers, many.workers) == (12, 1, 4)
    assert one.jobs_queued == many.jobs_queued > 12
    # One scan, a status query per connection, and the sends: the same requests either way
    assert one.requests == many.requests >= 1 + 12 + one.jobs_queued // 10
    assert "share of the timeout" in scheduler_scale.table([one, many])
