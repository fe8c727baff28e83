"""The hourly run at many connections: the connections sent in pages of a bounded size, each page's statuses read
and jobs sent several requests at a time, with the same outcome as one at a time; nothing lost or sent twice, and a
refused send still reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.models import SCHEDULE_ATTRIBUTES, CollectJob, Connection, SchedulePage
from carbonmeter.scheduling import enqueue, run_hourly, run_page
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, StatusStore
from devtools import scheduler_scale
from devtools.aws.resources import create_resources

NOW = datetime(2026, 11, 23, 10, 12, 12, tzinfo=UTC)
CONNECTIONS = 45
PAGE = 20


@pytest.fixture
def deployed(aws_credentials):
    with mock_aws():
        factory = ClientFactory(settings=Settings(lookback_hours=4, scheduler_page_connections=PAGE))
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


def _pages(factory: ClientFactory) -> list[SchedulePage]:
    assert factory.settings.page_queue_url
    return sorted(
        (SchedulePage.model_validate(body) for body in _drain(factory, factory.settings.page_queue_url)),
        key=lambda page: page.page,
    )


def _hourly_then_pages(factory: ClientFactory, settings: Settings) -> tuple[list[SchedulePage], int]:
    """The hourly run, then each page it sent planned as the page step does; the pages and the jobs queued."""
    run_hourly(factory, settings, NOW, NOW)
    pages = _pages(factory)
    return pages, sum(run_page(factory, settings, page, NOW).collect.jobs for page in pages)


def test_the_hourly_run_sends_every_connection_once_in_pages_of_the_set_size(deployed):
    # When the hourly run lists the 45 connections, 20 to a page
    run = run_hourly(deployed, deployed.settings, NOW, NOW)
    pages = _pages(deployed)
    # Then three pages, none larger than the setting, every connection in exactly one
    assert (run.pages, run.connections) == (3, CONNECTIONS)
    assert [len(page.connections) for page in pages] == [20, 20, 5]
    ids = [c.connection_id for page in pages for c in page.connections]
    assert sorted(ids) == [f"c{n:03d}" for n in range(CONNECTIONS)]
    # And every page plans the same moment and look-back, which keys its claim
    assert {(page.reference, page.lookback_end) for page in pages} == {(NOW, datetime(2026, 11, 23, 10, tzinfo=UTC))}


def test_statuses_read_and_jobs_sent_many_at_a_time_queue_what_one_at_a_time_queues(deployed):
    runs = {}
    for workers in (1, 8):
        settings = deployed.settings.model_copy(update={"scheduler_workers": workers})
        _, jobs = _hourly_then_pages(deployed, settings)
        runs[workers] = (jobs, _jobs(_drain(deployed, settings.collect_queue_url)))
    (one_count, one_jobs), (many_count, many_jobs) = runs[1], runs[8]
    # Every connection's missing hours of the look-back, each exactly once, whatever the workers
    assert many_jobs == one_jobs
    assert len(many_jobs) == len(set(many_jobs)) == CONNECTIONS * 4 - len(range(0, CONNECTIONS, 3))
    assert many_count == one_count == len(many_jobs)


def test_the_hourly_run_asks_one_scan_page_and_a_send_per_ten_pages_and_each_page_a_query_per_connection(deployed):
    # Given the scheduler's clients, counted, and the Scan's parameters kept
    scans: list[dict] = []
    keep = ("provide-client-params.dynamodb.Scan", lambda params, **_: scans.append(dict(params)))
    counted = ClientFactory(settings=deployed.settings, hooks=[keep])
    # When the hourly run lists the 45 connections
    run_hourly(counted, deployed.settings, NOW, NOW)
    # Then its requests are one Scan and one send, whatever the number of connections' statuses and jobs
    assert counted.counter.calls == {"dynamodb:Scan": 1, "sqs:SendMessageBatch": 1}
    # And the Scan reads what the schedule needs, never a role or an ExternalId
    assert sorted(scans[0]["ExpressionAttributeNames"].values()) == sorted(SCHEDULE_ATTRIBUTES)
    assert {"role_arn", "external_id"}.isdisjoint(SCHEDULE_ATTRIBUTES)
    # When the first page (20 connections, 7 of them with an hour collected already) is planned
    page = _pages(deployed)[0]
    planned = ClientFactory(settings=deployed.settings)
    run = run_page(planned, deployed.settings, page, NOW)
    # Then its requests are a status query per connection of the page and a send per ten jobs
    jobs = 20 * 4 - len(range(0, 20, 3))
    assert run.collect.jobs == jobs
    assert planned.counter.calls == {"dynamodb:Query": 20, "sqs:SendMessageBatch": -(-jobs // 10)}


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
    # Then two Scan pages (DynamoDB stops a page at 1 MB read, whatever the projection), every connection sent
    assert counted.counter.calls["dynamodb:Scan"] == 2
    assert run.connections == CONNECTIONS + 12
    assert sum(len(page.connections) for page in _pages(deployed)) == CONNECTIONS + 12


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


def test_the_scheduler_benchmark_times_the_hourly_run_and_each_page():
    # A few connections, no latency: the figures agree with each other (the timings themselves are no test)
    hourly, slowest, every = scheduler_scale.measure([12], latency_ms=0, workers=4)
    assert [run.step for run in (hourly, slowest, every)] == ["hourly run", "slowest page", "every page"]
    assert (hourly.connections, hourly.pages, hourly.jobs_queued) == (12, 1, 0)
    # One scan and one send; then a status query per connection and the page's sends
    assert hourly.requests == 2
    assert every.jobs_queued == slowest.jobs_queued > 12
    assert every.requests == slowest.requests == 12 + -(-every.jobs_queued // 10)
    assert [run.invocation for run in (hourly, slowest, every)] == [True, True, False]
    assert "share of the timeout" in scheduler_scale.table([hourly, slowest, every])
