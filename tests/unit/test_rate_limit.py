"""GetMetricData's client-side pacing: one token bucket per customer account and region, on a fake clock."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from carbonmeter import cloudwatch
from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.collection import metric_data_limiter
from carbonmeter.rate_limit import METRIC_DATA_LIMITS, RateLimits, TokenBucket
from carbonmeter.settings import Settings
from tests.support.clock import FakeClock
from tests.support.offline import OFFLINE_ENV


def test_requests_over_the_rate_are_spread_one_slot_apart() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5.0, clock=clock, sleep=clock.sleep)
    started = clock()
    sent = []
    for _ in range(12):
        bucket.acquire()
        sent.append(clock() - started)
    # The first leaves at once, every next one 1/5 s after the one before: 12 requests take 11/5 s.
    assert sent == pytest.approx([index / 5 for index in range(12)])
    assert bucket.waited_seconds == pytest.approx(sum(clock.sleeps))
    assert max(Counter(int(at) for at in sent).values()) == 5  # never more than the rate in any second


def test_no_burst_is_saved_up_while_idle() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    clock.advance(60.0)  # a minute idle earns no extra slots
    assert [bucket.acquire() for _ in range(3)] == pytest.approx([0.0, 0.5, 0.5])


def test_requests_under_the_rate_never_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert bucket.acquire() == 0.0
        clock.advance(0.25)
    assert clock.sleeps == []


def test_threads_reserve_distinct_slots() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, clock=clock, sleep=lambda _: None)  # time stands still: only the reservations count
    waits: list[float] = []
    lock = threading.Lock()

    def send() -> None:
        wait = bucket.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([index / 4 for index in range(8)])


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0.0)


def _factory(limits: RateLimits, rate: float = 5.0) -> ClientFactory:
    session = boto3.Session(
        aws_access_key_id=OFFLINE_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=OFFLINE_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    return ClientFactory(session, settings=Settings(metric_data_requests_per_second=rate), rate_limits=limits)


def test_connections_of_one_account_share_a_bucket_and_other_accounts_do_not() -> None:
    clock = FakeClock()
    limits = RateLimits(clock=clock, sleep=clock.sleep)
    first, second = _factory(limits), _factory(limits)  # two connections' factories, in one container
    shared = metric_data_limiter(first, "111111111111", "eu-west-1")
    assert metric_data_limiter(second, "111111111111", "eu-west-1") is shared
    assert metric_data_limiter(second, "222222222222", "eu-west-1") is not shared
    assert metric_data_limiter(second, "111111111111", "us-east-1") is not shared
    # Pacing follows: the second connection of the account waits behind the first, another account does not.
    assert shared.acquire() == 0.0
    assert metric_data_limiter(second, "111111111111", "eu-west-1").acquire() == pytest.approx(0.2)
    assert metric_data_limiter(second, "222222222222", "eu-west-1").acquire() == 0.0


def test_factories_for_assumed_roles_keep_the_container_s_buckets() -> None:
    limits = RateLimits()
    base = _factory(limits)
    assert base.for_session(base.session).rate_limits is limits
    assert ClientFactory(base.session).rate_limits is METRIC_DATA_LIMITS


def test_the_rate_is_the_setting_s() -> None:
    limits = RateLimits()
    assert metric_data_limiter(_factory(limits, rate=2.5), "111111111111", "eu-west-1").rate == 2.5
    assert Settings.from_env({"CARBONMETER_METRIC_DATA_REQUESTS_PER_SECOND": "5"}).metric_data_requests_per_second == 5


_HOUR = datetime(2026, 11, 23, 10, tzinfo=UTC)


def _requests(count: int) -> list[MetricRequest]:
    return [
        MetricRequest("AWS/EC2", "CPUUtilization", (("InstanceId", f"i-{index:05d}"),), "Average", 3600, _HOUR, _HOUR)
        for index in range(count)
    ]


def _answer(ids: list[str], next_token: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "MetricDataResults": [{"Id": query, "StatusCode": "Complete", "Timestamps": [], "Values": []} for query in ids]
    }
    if next_token:
        answer["NextToken"] = next_token
    return answer


def test_fetch_waits_for_a_slot_before_every_request_and_every_page() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock=clock, sleep=clock.sleep)
    client = _factory(RateLimits()).client("cloudwatch", "eu-west-1")
    sent: list[float] = []
    client.meta.events.register("provide-client-params.cloudwatch.GetMetricData", lambda **_: sent.append(clock()))
    first_ids = [f"q{index}" for index in range(500)]
    with Stubber(client) as stub:
        stub.add_response("get_metric_data", _answer(first_ids, next_token="page-2"))
        stub.add_response("get_metric_data", _answer(first_ids))
        stub.add_response("get_metric_data", _answer(["q0", "q1"]))
        values = cloudwatch.fetch(client, _requests(502), ApiCallCounter(), bucket)
    assert len(values) == 502
    # Three requests (two pages of the first batch, then the second batch), each half a second after the one before.
    assert [at - sent[0] for at in sent] == pytest.approx([0.0, 0.5, 1.0])
