"""A collection's GetMetricData requests keep to the container's pace per customer account and region (on moto)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import boto3
import pytest

from carbonmeter.aws import ClientFactory, assume_role
from carbonmeter.collection import collect
from carbonmeter.models import Connection, previous_whole_hour
from carbonmeter.rate_limit import RateLimits
from carbonmeter.services import READ_ACTIONS, READ_RESOURCES
from carbonmeter.settings import Settings
from devtools.seed import seed_demo_account
from tests.support.clock import FakeClock

REGIONS = ("us-east-1", "eu-west-1")
HOUR = previous_whole_hour(datetime.now(UTC)) - timedelta(hours=1)
# Low, so that the demo account's few requests per region already have to wait for their slots.
RATE = 2.0


class SentRequests:
    """When (on the fake clock) each GetMetricData request left, by the region it was signed for."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.at: defaultdict[str, list[float]] = defaultdict(list)

    def hook(self) -> tuple[str, Any]:
        return ("before-send.cloudwatch.GetMetricData", self._sent)

    def _sent(self, request: Any, **_: Any) -> None:
        region = request.url.split("monitoring.", 1)[1].split(".", 1)[0]
        self.at[region].append(self._clock())


@pytest.fixture
def paced(aws: None) -> tuple[FakeClock, SentRequests, ClientFactory, Connection]:
    clock = FakeClock()
    sent = SentRequests(clock)
    settings = Settings(region="us-east-1", metric_data_requests_per_second=RATE)
    base = ClientFactory(
        boto3.Session(), settings=settings, hooks=[sent.hook()], rate_limits=RateLimits(clock=clock, sleep=clock.sleep)
    )
    demo = seed_demo_account(ClientFactory(boto3.Session(), settings=settings), REGIONS, [HOUR])
    customer = assume_role(
        base,
        demo.role_arn,
        demo.external_id,
        "pacing",
        session_actions=READ_ACTIONS,
        session_resources=READ_RESOURCES,
    )
    connection = Connection(connection_id="acme", role_arn=demo.role_arn, external_id=demo.external_id, regions=REGIONS)
    return clock, sent, customer, connection


def _gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in pairwise(times)]


def test_a_collection_never_sends_getmetricdata_faster_than_the_rate(paced):
    clock, sent, customer, connection = paced
    # When the connection's hour is collected (areas one after another, so the fake clock reads each send in turn)
    result = collect(customer, connection, [HOUR], workers=1)
    # Then every region got several requests, each at least 1/RATE after the previous one to that region
    assert not result.failed
    assert set(sent.at) == set(REGIONS)
    assert all(len(times) >= 2 for times in sent.at.values())
    for times in sent.at.values():
        assert min(_gaps(times)) >= 1 / RATE - 1e-9
    # And the limiter did make them wait (without it, the fake clock would not have moved)
    assert clock.sleeps
    assert sum(len(times) for times in sent.at.values()) == customer.counter.calls["monitoring:GetMetricData"]


def test_two_connections_of_one_account_share_its_pace(paced):
    _, sent, customer, connection = paced
    # When two connections of the same account are collected in one container, one after the other
    collect(customer, connection, [HOUR], workers=1)
    first = {region: len(times) for region, times in sent.at.items()}
    other = connection.model_copy(update={"connection_id": "acme-copy"})
    collect(customer.for_session(customer.session), other, [HOUR], workers=1)
    # Then the second one's requests to a region queue behind the first one's: still 1/RATE apart throughout
    for region, times in sent.at.items():
        assert len(times) == 2 * first[region]
        assert min(_gaps(times)) >= 1 / RATE - 1e-9
