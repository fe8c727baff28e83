"""Faults injected into the real handlers on the embedded AWS: nothing is lost, nothing doubled.

Every test collects and calculates the same seeded hour for a connection of its own, with
faults injected into the handlers' boto3 clients (``devtools.faults``), and compares what is
stored with the ledger of a fault-free run of that hour: the same usage records, emission
records and roll-ups, keyed the same, with the same values and nothing extra.

One embedded AWS and one seeded account serve the whole module, so each test builds its own
client factory (fresh retry quotas and rate limiters) and uses its own connection id.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
from botocore.awsrequest import AWSPreparedRequest

from carbonmeter import keys
from carbonmeter.aws import ClientFactory, EventHook
from carbonmeter.collect_step import IncompleteCollectionError, collect_connection_hour
from carbonmeter.models import HOUR, CollectJob, Connection, HourStatus, UsageRecord, previous_whole_hour
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.scheduling import enqueue
from carbonmeter.services import GLOBAL_SERVICES, REGIONAL_SERVICES
from carbonmeter.settings import Settings
from carbonmeter.store import EmissionStore, StatusStore, UsageStore
from devtools.aws.pipeline import DrainStats, LocalPipeline, lambda_environment
from devtools.aws.resources import CALCULATE_QUEUE, COLLECT_QUEUE, DEAD_LETTER_SUFFIX, create_resources
from devtools.aws.server import embedded_aws
from devtools.faults import ALWAYS, Faults, InvocationTimeout, instant_backoff, lambda_timeouts, request_region
from devtools.seed import DemoAccount, seed_demo_account
from tests.support.cloudwatch import CloudWatchLimits, GetMetricDataPager

REGIONS = ("us-east-1", "eu-west-1")
# Retries botocore makes after a failed attempt (Settings.max_attempts is botocore's ``max_attempts``).
RETRIES = 3
ITEMS_PER_BATCH_WRITE = 25

Ledger = dict[str, list[dict[str, Any]]]


@dataclass
class Cloud:
    """The deployed pipeline and the seeded customer account, shared by the module's tests."""

    settings: Settings
    clients: ClientFactory  # CarbonMeter's own clients, never faulted: setup and reading the ledger
    account: DemoAccount
    hour: datetime
    limits: CloudWatchLimits
    baseline: Ledger

    def register(self, connection_id: str, regions: tuple[str, ...] = REGIONS, external_id: str = "") -> CollectJob:
        from carbonmeter.store import ConnectionStore

        ConnectionStore(self.clients, self.settings.connections_table).put(
            Connection(
                connection_id=connection_id,
                role_arn=self.account.role_arn,
                external_id=external_id or self.account.external_id,
                regions=regions,
            )
        )
        return CollectJob(connection_id=connection_id, hour=self.hour)

    def handler_clients(self, *hooks: EventHook, settings: Settings | None = None) -> ClientFactory:
        return ClientFactory(settings=settings or self.settings, hooks=(*hooks, self.limits.hook))

    @contextmanager
    def deployed(self, clients: ClientFactory) -> Iterator[LocalPipeline]:
        """The real handlers, using ``clients``; the queues' event source uses clean clients."""
        pipeline = LocalPipeline(self.clients, self.settings, account_id=self.account.account_id)
        with use_runtime(Runtime(settings=self.settings, clients=clients)):
            yield pipeline

    def queue(self, *jobs: CollectJob) -> None:
        assert self.settings.collect_queue_url
        enqueue(self.clients, self.settings.collect_queue_url, list(jobs))

    def ledger(self, connection_id: str) -> Ledger:
        usage = UsageStore(self.clients, self.settings.usage_table).read_hour(connection_id, self.hour)
        emissions = EmissionStore(self.clients, self.settings.emissions_table)
        return {
            "usage": _rows(usage),
            "emissions": _rows(emissions.read_hour(connection_id, self.hour)),
            "rollups": _rows(emissions.rollups(connection_id, self.hour, self.hour + HOUR)),
        }

    def status(self, connection_id: str) -> HourStatus:
        status = StatusStore(self.clients, self.settings.usage_table).get(connection_id, self.hour)
        assert status is not None, f"no status stored for {connection_id}"
        return status

    def connection(self, connection_id: str) -> Connection:
        from carbonmeter.store import ConnectionStore

        return ConnectionStore(self.clients, self.settings.connections_table).get(connection_id)

    def dead_letters(self) -> list[str]:
        """Connection ids of the messages parked in either dead-letter queue (removed from it)."""
        sqs = self.clients.client("sqs")
        found = []
        for name in (COLLECT_QUEUE, CALCULATE_QUEUE):
            url = sqs.get_queue_url(QueueName=name + DEAD_LETTER_SUFFIX)["QueueUrl"]
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                found += [json.loads(message["Body"])["connection_id"] for message in messages]
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found


def _rows(records: list[Any]) -> list[dict[str, Any]]:
    # The connection id is the only field that differs from the baseline connection's records.
    rows = [record.model_dump(mode="json", exclude={"connection_id"}) for record in records]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def _run(pipeline: LocalPipeline) -> tuple[DrainStats, DrainStats]:
    return pipeline.drain_collect(), pipeline.drain_calculate()


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    with embedded_aws():
        setup = ClientFactory(settings=Settings(region="us-east-1"))
        settings = create_resources(setup, setup.settings).model_copy(
            update={"retry_mode": "standard", "max_attempts": RETRIES}
        )
        hour = previous_whole_hour(datetime.now(UTC)) - HOUR
        account = seed_demo_account(setup, REGIONS, [hour])
        with lambda_environment(settings):
            shared = Cloud(settings, setup, account, hour, CloudWatchLimits(), baseline={})
            shared.queue(shared.register("baseline"))
            with shared.deployed(shared.handler_clients()) as pipeline:
                collected, calculated = _run(pipeline)
            assert (collected.succeeded, calculated.succeeded) == (1, 1)
            shared.baseline = shared.ledger("baseline")
            assert all(shared.baseline.values())
            yield shared
        assert not shared.limits.violations


@pytest.fixture
def backoff() -> Iterator[list[float]]:
    """Retries wait no time; yields the delays botocore's jittered backoff computed."""
    with instant_backoff() as delays:
        yield delays


@pytest.fixture(autouse=True)
def _no_dead_letters_left(cloud: Cloud) -> Iterator[None]:
    yield
    assert cloud.dead_letters() == [], "a message ended in a dead-letter queue"


def _in(region: str) -> Callable[[AWSPreparedRequest], bool]:
    return lambda request: request_region(request) == region


def _usage_of(cloud: Cloud, connection_id: str) -> list[UsageRecord]:
    return UsageStore(cloud.clients, cloud.settings.usage_table).read_hour(connection_id, cloud.hour)


# --- the fault plan itself --------------------------------------------------------------------


def _request(body: str, region: str = "eu-west-1") -> AWSPreparedRequest:
    authorization = f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/{region}/monitoring/aws4_request"
    return AWSPreparedRequest("POST", "http://127.0.0.1:1234/", {"Authorization": authorization}, body, None)


def _picked(seed: int, bodies: list[str]) -> list[str]:
    faults = Faults(seed=seed)
    faults.throttle("cloudwatch", "GetMetricData", probability=0.3)
    send = faults.hooks()[0][1]
    event = "before-send.cloudwatch.GetMetricData"
    return [body for body in bodies if send(request=_request(body), event_name=event) is not None]


def test_fault_plan_picks_the_same_requests_for_the_same_seed_whatever_the_order():
    # Given a thousand distinct requests and a rule failing 30% of them
    bodies = [f"request-{index}" for index in range(1000)]
    # When the same seed sees them in two different orders, and another seed sees them
    first, reversed_order, other_seed = _picked(7, bodies), _picked(7, bodies[::-1]), _picked(8, bodies)
    # Then the same seed picks the same requests, about 30% of them, and another seed picks others
    assert sorted(first) == sorted(reversed_order)
    assert 250 < len(first) < 350
    assert set(first) != set(other_seed)


def test_fault_plan_fails_a_picked_request_its_first_attempts_only():
    faults = Faults(seed=1)
    faults.server_error("cloudwatch", times=2, when=lambda request: request_region(request) == "eu-west-1")
    send = faults.hooks()[0][1]
    event = "before-send.cloudwatch.GetMetricData"
    # A request in the faulty region fails twice, then goes through; one elsewhere is never touched
    answers = [send(request=_request("same"), event_name=event) for _ in range(3)]
    assert [answer.status_code if answer else None for answer in answers] == [503, 503, None]
    assert send(request=_request("same", region="us-east-1"), event_name=event) is None
    assert faults.injected == {"cloudwatch:GetMetricData:http503": 2}
    assert faults.sends == {"cloudwatch:GetMetricData": 4}


# --- throttling and 5xx: botocore's retry mode ------------------------------------------------


RETRIED_SERVICES = ("cloudwatch", "sts", "ec2", "dynamodb")


def test_throttling_and_5xx_are_retried_by_botocore_and_the_hour_is_stored_once(cloud, backoff):
    # Given every request to CloudWatch, STS, EC2 and DynamoDB throttled once, then failed with a 503 once
    faults = Faults(seed=3)
    for service in RETRIED_SERVICES:
        faults.throttle(service, times=1)
        faults.server_error(service, times=1)
    job = cloud.register("retried")
    cloud.queue(job)
    # When the hour is collected and calculated
    with cloud.deployed(cloud.handler_clients(*faults.hooks())) as pipeline:
        collected, calculated = _run(pipeline)
    # Then both faults hit every request to each service, and botocore's retries absorbed them all
    for service in RETRIED_SERVICES:
        throttled = sum(n for key, n in faults.injected.items() if key.startswith(service) and "throttled" in key)
        failed = sum(n for key, n in faults.injected.items() if key.startswith(service) and "http503" in key)
        sends = sum(n for key, n in faults.sends.items() if key.startswith(f"{service}:"))
        assert throttled == failed > 0, service
        assert sends == 3 * throttled, service
    assert (collected.succeeded, collected.failed, calculated.succeeded, calculated.failed) == (1, 0, 1, 0)
    # And each retry waited a jittered exponential backoff (skipped here, but computed)
    assert len(backoff) == faults.total
    assert len(set(backoff)) > 1
    assert all(0 <= delay <= 20 for delay in backoff)
    # And the stored hour is exactly the fault-free one
    assert cloud.ledger(job.connection_id) == cloud.baseline
    assert cloud.status(job.connection_id).complete


def test_the_default_adaptive_mode_rides_out_cloudwatch_throttling(cloud, backoff):
    # Given the production retry mode (adaptive: standard retries plus a client-side rate limiter)
    adaptive = cloud.settings.model_copy(update={"retry_mode": "adaptive"})
    faults = Faults(seed=5)
    # One throttle only: after it the adaptive limiter lets the client send about one request every two seconds.
    faults.throttle("cloudwatch", "GetMetricData", after=1, limit=1, when=_in("eu-west-1"))
    job = cloud.register("adaptive")
    cloud.queue(job)
    # When a GetMetricData request is throttled
    with cloud.deployed(cloud.handler_clients(*faults.hooks(), settings=adaptive)) as pipeline:
        collected, calculated = _run(pipeline)
    # Then the retry absorbed it and the hour is the fault-free one
    assert faults.injected_into("cloudwatch", "GetMetricData") == 1
    assert (collected.succeeded, collected.failed, calculated.succeeded) == (1, 0, 1)
    assert cloud.ledger(job.connection_id) == cloud.baseline


def test_a_fault_outlasting_botocore_retries_is_retried_by_sqs_and_the_retry_completes_the_hour(cloud, backoff):
    # Given CloudWatch in eu-west-1 throttling GetMetricData for longer than botocore retries one request
    faults = Faults(seed=5)
    faults.throttle("cloudwatch", "GetMetricData", times=ALWAYS, limit=RETRIES + 1, when=_in("eu-west-1"))
    job = cloud.register("outlasted")
    cloud.queue(job)
    with cloud.deployed(cloud.handler_clients(*faults.hooks())) as pipeline:
        # When the collector receives the job once
        first = pipeline.drain_collect(max_batches=1)
        # Then the invocation reports the message failed, and stores what it could
        assert (first.succeeded, first.failed) == (0, 1)
        status = cloud.status(job.connection_id)
        assert status.failed
        assert all(scope.startswith("eu-west-1/") for scope in status.failed)
        assert all("Throttling" in error for error in status.failed.values())
        assert {f"us-east-1/{service}" for service in REGIONAL_SERVICES} <= set(status.succeeded)
        assert {f"global/{service}" for service in GLOBAL_SERVICES} <= set(status.succeeded)
        stored_regions = {record.region for record in _usage_of(cloud, job.connection_id)}
        assert "us-east-1" in stored_regions
        assert "Throttling" in (cloud.connection(job.connection_id).last_error or "")
        # When SQS delivers it again, after the throttling has passed
        again, _ = _run(pipeline)
    # Then the retry completes the hour, equal to the fault-free one
    assert (again.succeeded, again.failed) == (1, 0)
    assert faults.injected_into("cloudwatch") == RETRIES + 1
    assert cloud.ledger(job.connection_id) == cloud.baseline
    final = cloud.status(job.connection_id)
    assert (final.complete, final.attempts) == (True, 2)


# --- GetMetricData pages, DynamoDB UnprocessedItems, lost replies ----------------------------


def test_getmetricdata_pages_and_partial_data_with_throttling_give_the_same_hour(cloud, backoff):
    # Given CloudWatch answering a few datapoints a page (PartialData, NextToken) and throttling first pages
    pager = GetMetricDataPager(max_datapoints=4)
    faults = Faults(seed=9)
    faults.throttle("cloudwatch", "GetMetricData", times=1)
    job = cloud.register("paged")
    cloud.queue(job)
    # When the hour is collected and calculated
    with cloud.deployed(cloud.handler_clients(*faults.hooks(), *pager.hooks())) as pipeline:
        collected, _ = _run(pipeline)
    # Then every request came in several pages, and the stored hour is the fault-free one
    first_pages = faults.sends["cloudwatch:GetMetricData"] - faults.injected_into("cloudwatch")
    assert pager.pages_served > 2 * first_pages
    assert collected.succeeded == 1
    assert cloud.ledger(job.connection_id) == cloud.baseline


def test_unprocessed_items_are_resent_by_batch_writer_and_stored_once(cloud):
    # Given DynamoDB writing only 10 of the 25 items of each of the first six BatchWriteItem calls
    faults = Faults()
    faults.unprocessed_items(calls=6, keep=10)
    job = cloud.register("unprocessed")
    cloud.queue(job)
    # When the hour is collected and calculated (both write their records with BatchWriteItem)
    with cloud.deployed(cloud.handler_clients(*faults.hooks())) as pipeline:
        collected, calculated = _run(pipeline)
    # Then items came back unprocessed, were resent, and the stored hour is the fault-free one
    assert faults.injected["dynamodb:BatchWriteItem:unprocessed-items"] > 6
    assert (collected.succeeded, calculated.succeeded) == (1, 1)
    assert cloud.ledger(job.connection_id) == cloud.baseline


def test_writes_and_enqueues_applied_but_unanswered_are_repeated_harmlessly(cloud, backoff):
    # Given every BatchWriteItem and SendMessageBatch applied by the service, but its reply lost (a 500)
    faults = Faults()
    faults.lose_replies("dynamodb", "BatchWriteItem")
    faults.lose_replies("sqs", "SendMessageBatch")
    job = cloud.register("lost-replies")
    cloud.queue(job)
    # When the hour is collected and calculated, botocore resending each call once
    with cloud.deployed(cloud.handler_clients(*faults.hooks())) as pipeline:
        collected, calculated = _run(pipeline)
    # Then the calculate job was queued twice and calculated twice, and the stored hour is the fault-free one
    assert faults.injected["sqs:SendMessageBatch:reply-lost"] == 1
    assert faults.injected["dynamodb:BatchWriteItem:reply-lost"] > 0
    assert (collected.succeeded, calculated.succeeded) == (1, 2)
    assert cloud.ledger(job.connection_id) == cloud.baseline


# --- AssumeRole refused, credentials expired, region not enabled ------------------------------


def _external_id(request: AWSPreparedRequest) -> str:
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
    return parse_qs(body).get("ExternalId", [""])[0]


def test_assume_role_refused_for_a_wrong_external_id_is_not_retried_and_the_job_ends_in_the_dlq(cloud, backoff):
    # Given STS refusing AssumeRole unless the ExternalId is the one the role trusts (one was rotated away)
    faults = Faults()
    trusted = cloud.account.external_id
    faults.error(
        "sts",
        "AssumeRole",
        "AccessDenied",
        403,
        times=ALWAYS,
        when=lambda request: _external_id(request) != trusted,
        # Worst case for secrecy: an error message that quotes the ExternalId it refused.
        message="Not authorized to perform sts:AssumeRole with ExternalId rotated-away-external-id",
    )
    refused = cloud.register("wrong-external-id", external_id="rotated-away-external-id")
    healthy = cloud.register("healthy-neighbour")
    cloud.queue(refused, healthy)
    # When both connections' hour is collected and calculated
    with cloud.deployed(cloud.handler_clients(*faults.hooks())) as pipeline:
        collected, _ = _run(pipeline)
    # Then the refusal was not retried by botocore: one AssumeRole per delivery, three deliveries, then the DLQ
    assert faults.injected == {"sts:AssumeRole:AccessDenied": 3}
    assert faults.sends["sts:AssumeRole"] == 3 + 1
    assert (collected.succeeded, collected.failed) == (1, 3)
    assert cloud.dead_letters() == ["wrong-external-id"]
    # And the connection says why, without the ExternalId, and nothing was stored for it
    error = cloud.connection("wrong-external-id").last_error or ""
    assert "AccessDenied" in error
    assert "rotated-away-external-id" not in error
    status = cloud.status("wrong-external-id")
    assert len(status.failed) == len(REGIONS) * len(REGIONAL_SERVICES) + len(GLOBAL_SERVICES)
    assert _usage_of(cloud, "wrong-external-id") == []
    # And the healthy connection's hour is the fault-free one
    assert cloud.ledger("healthy-neighbour") == cloud.baseline


def test_credentials_expiring_mid_collection_fail_one_scope_and_the_retry_completes_the_hour(cloud, backoff):
    # Given EC2 in eu-west-1 answering ExpiredToken once (the assumed session ran out mid-collection)
    faults = Faults()
    faults.error("ec2", "DescribeInstances", "ExpiredToken", 400, when=_in("eu-west-1"))
    job = cloud.register("expired-session")
    cloud.queue(job)
    with cloud.deployed(cloud.handler_clients(*faults.hooks())) as pipeline:
        # When the collector receives the job once
        first = pipeline.drain_collect(max_batches=1)
        # Then only that scope failed (not retried by botocore), and every other scope was stored
        assert (first.succeeded, first.failed) == (0, 1)
        assert faults.sends["ec2:DescribeInstances"] == len(REGIONS)
        assert list(cloud.status(job.connection_id).failed) == ["eu-west-1/ec2"]
        stored = {(record.region, record.service) for record in _usage_of(cloud, job.connection_id)}
        expected = {(row["region"], row["service"]) for row in cloud.baseline["usage"]}
        assert stored == expected - {("eu-west-1", "ec2")}
        # When SQS delivers it again (a new AssumeRole, fresh credentials)
        again, _ = _run(pipeline)
    # Then the hour is complete and equal to the fault-free one
    assert again.succeeded == 1
    assert faults.sends["sts:AssumeRole"] == 2
    assert cloud.ledger(job.connection_id) == cloud.baseline
    assert cloud.status(job.connection_id).complete


NOT_ENABLED = "me-south-1"


def test_a_region_not_enabled_is_skipped_with_its_reason_and_the_other_regions_are_stored(cloud):
    # Given a connection listing a region its account has not enabled (each regional service's API refuses it;
    # CloudFront, global, is never called there)
    faults = Faults()
    services = (
        "ec2",
        "cloudwatch",
        "rds",
        "lambda",
        "elasticache",
        "apigateway",
        "apigatewayv2",
        "dynamodb",
        "redshift",
        "ecs",
        "eks",
    )
    faults.region_not_enabled(NOT_ENABLED, services=services)
    cloud.queue(cloud.register("opt-in-region", regions=(*REGIONS, NOT_ENABLED)))
    # When the hour is collected and calculated
    with cloud.deployed(cloud.handler_clients(*faults.hooks())) as pipeline:
        collected, _ = _run(pipeline)
    # Then it is collected at the first attempt, with nothing to retry
    assert faults.total > 0
    assert (collected.succeeded, collected.failed) == (1, 0)
    status = cloud.status("opt-in-region")
    assert status.complete
    assert set(status.skipped) == {f"{NOT_ENABLED}/{service}" for service in REGIONAL_SERVICES}
    assert all("not enabled" in reason for reason in status.skipped.values())
    # And the global services were collected once, as for any connection
    assert {f"global/{service}" for service in GLOBAL_SERVICES} <= set(status.succeeded)
    # And the enabled regions' records are the fault-free ones
    assert cloud.ledger("opt-in-region") == cloud.baseline


def test_s3_in_a_region_not_enabled_is_skipped_too(cloud):
    # Given every service, S3 included, refusing the region as AWS does
    faults = Faults()
    faults.region_not_enabled(NOT_ENABLED)
    job = cloud.register("opt-in-region-s3", regions=(*REGIONS, NOT_ENABLED))
    # When the collector runs the hour once
    uncalculated = cloud.settings.model_copy(update={"calculate_queue_url": None})
    with contextlib.suppress(IncompleteCollectionError):
        collect_connection_hour(job, cloud.handler_clients(*faults.hooks()), uncalculated)
    # Then the S3 scope is skipped like the others, and nothing is left to retry
    assert cloud.status(job.connection_id).failed == {}


# --- Lambda timeout, duplicate messages, concurrent collection --------------------------------


def test_a_lambda_timeout_mid_batch_write_is_retried_and_the_retry_completes_the_hour(cloud):
    # Given two connection-hours in one SQS batch, and the invocation timing out in the middle of the
    # second one's usage write (its first BatchWriteItem done, the second cut off)
    writes_per_job = math.ceil(len(cloud.baseline["usage"]) / ITEMS_PER_BATCH_WRITE)
    # (each job first writes its connection's inventory, new here: one item per resource, as many as its records)
    inventory_writes = writes_per_job
    faults = Faults()
    after = 2 * inventory_writes + writes_per_job + 1
    faults.crash("dynamodb", "BatchWriteItem", InvocationTimeout("mid-batch"), after=after)
    jobs = [cloud.register("timeout-first"), cloud.register("timeout-second")]
    cloud.queue(*jobs)
    with cloud.deployed(cloud.handler_clients(*faults.hooks())) as pipeline:
        pipeline.collector = lambda_timeouts(pipeline.collector)
        # When the collector gets the batch and times out
        first = pipeline.drain_collect(max_batches=1)
        # Then both messages go back to the queue, one hour fully written and the other half written
        assert (first.succeeded, first.failed) == (0, 2)
        stored = sorted(len(_usage_of(cloud, job.connection_id)) for job in jobs)
        assert stored == [ITEMS_PER_BATCH_WRITE, len(cloud.baseline["usage"])]
        # When SQS delivers them again
        again, _ = _run(pipeline)
    # Then both hours are complete and equal to the fault-free one; the first was simply collected twice
    assert faults.total == 1
    assert (again.succeeded, again.failed) == (2, 0)
    for job in jobs:
        assert cloud.ledger(job.connection_id) == cloud.baseline
        assert cloud.status(job.connection_id).complete


def test_a_duplicate_message_leaves_one_copy_of_the_hour(cloud):
    # Given SQS delivering the same collect message twice
    job = cloud.register("duplicated")
    cloud.queue(job, job)
    # When both are collected and calculated
    with cloud.deployed(cloud.handler_clients()) as pipeline:
        collected, calculated = _run(pipeline)
    # Then both succeeded, and the hour is stored once, equal to the fault-free one
    assert (collected.succeeded, calculated.succeeded) == (2, 2)
    assert cloud.ledger(job.connection_id) == cloud.baseline


class Rendezvous:
    """Holds each caller's first matching send until ``parties`` callers have reached it."""

    def __init__(self, event: str, parties: int) -> None:
        self.event = event
        self._barrier = threading.Barrier(parties, timeout=30)
        self._passed: set[int] = set()

    def hook(self) -> EventHook:
        return (self.event, self._wait)

    def _wait(self, **_: Any) -> None:
        caller = threading.get_ident()
        if caller not in self._passed:
            self._passed.add(caller)
            self._barrier.wait()


@pytest.fixture(scope="module")
def concurrent_run(cloud: Cloud) -> CollectJob:
    """One hour collected by two collectors at once, both reading the stored hour and its status before
    either writes them, over a record left by an earlier run (a resource since gone); then calculated."""
    job = cloud.register("concurrent")
    stale = UsageRecord.model_validate(
        {**cloud.baseline["usage"][0], "connection_id": job.connection_id, "resource_id": "i-gone"}
    )
    item = json.loads(stale.model_dump_json(), parse_float=Decimal)
    table = cloud.clients.resource("dynamodb").Table(cloud.settings.usage_table)
    table.put_item(
        Item={**item, "pk": keys.hour_partition(job.connection_id, job.hour), "sk": keys.resource_key(stale)}
    )
    writes = Rendezvous("before-send.dynamodb.BatchWriteItem", parties=2)
    statuses = Rendezvous("before-send.dynamodb.PutItem", parties=2)

    def collect_once(_: int) -> Any:
        return collect_connection_hour(job, cloud.handler_clients(writes.hook(), statuses.hook()), cloud.settings)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(collect_once, range(2)))
    assert all(outcome.status is not None and outcome.status.complete for outcome in outcomes)
    with cloud.deployed(cloud.handler_clients()) as pipeline:
        assert pipeline.drain_calculate().succeeded == 2
    return job


def test_the_same_hour_collected_concurrently_leaves_one_copy(cloud, concurrent_run):
    # Then the hour is stored once, equal to the fault-free one, and the stale record is gone
    assert cloud.ledger(concurrent_run.connection_id) == cloud.baseline


def test_concurrent_collections_of_one_hour_both_count_in_its_status(cloud, concurrent_run):
    # Then the status counts both attempts
    assert cloud.status(concurrent_run.connection_id).attempts == 2
