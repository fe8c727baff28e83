"""What keeps the collector's CPU down at 10,000 resources, and leaves its answers exactly as they were.

docs/benchmarks.md, "The collector's CPU", has the profile these come from.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.session
import botocore.utils
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

import carbonmeter
from carbonmeter import cloudwatch
from carbonmeter.aws import ClientFactory, parse_timestamp
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.gc_pause import gc_paused
from carbonmeter.models import HOUR
from carbonmeter.settings import Settings

AS_AWS_WRITES_THEM = [
    "2026-11-23T10:20:00.000Z",
    "2026-11-23T10:20:00Z",
    "2026-11-23T10:20:00.123456Z",
    "2026-11-23T10:20:00.5Z",
]
OTHER_FORMS = [
    "2026-11-23T10:20:00.1234567Z",  # more digits than a datetime holds
    "2026-11-23T10:20:00+00:00",
    "2026-11-23T12:20:00+02:00",
    "Mon, 23 Nov 2026 10:20:00 GMT",
    "1795429200",
    1795429200,
    1795429200.25,
]


@pytest.mark.parametrize("value", AS_AWS_WRITES_THEM + OTHER_FORMS)
def test_timestamps_parse_to_the_datetime_botocore_gives_with_its_tzinfo(value: Any):
    ours, botocores = parse_timestamp(value), botocore.utils.parse_timestamp(value)
    assert ours == botocores
    assert type(ours.tzinfo) is type(botocores.tzinfo)
    assert ours.utcoffset() == botocores.utcoffset()


def test_a_bad_timestamp_fails_as_botocore_fails_it():
    with pytest.raises(ValueError, match="Invalid timestamp"):
        parse_timestamp("yesterday at noon-ish")


VOLUMES_ANSWER = b"""<?xml version="1.0" encoding="UTF-8"?>
<DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>0</requestId>
  <volumeSet><item><volumeId>vol-1</volumeId><size>8</size><volumeType>gp3</volumeType>
    <createTime>2026-11-23T10:20:00.000Z</createTime></item></volumeSet>
</DescribeVolumesResponse>"""


class _Body:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield VOLUMES_ANSWER


def _answer(request: Any, **_: Any) -> AWSResponse:
    return AWSResponse(request.url, 200, {}, _Body())


def test_a_factory_s_clients_read_describe_answers_timestamps_as_botocore_would():
    # Given a client of a factory, answered offline with an EC2 XML answer
    settings = Settings(endpoint_url="http://127.0.0.1:9")
    clients = ClientFactory(settings=settings, hooks=[("before-send.ec2.DescribeVolumes", _answer)])

    # When the answer is parsed
    (volume,) = clients.client("ec2", "eu-west-1").describe_volumes()["Volumes"]

    # Then its CreateTime is what botocore's own parser makes of it, tzinfo included
    created: datetime = volume["CreateTime"]
    expected = botocore.utils.parse_timestamp("2026-11-23T10:20:00.000Z")
    assert created == expected
    assert type(created.tzinfo) is type(expected.tzinfo)


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_garbage_collector_is_off_while_collections_run_and_on_after_the_last(collector_enabled: None):
    with gc_paused:
        assert not gc.isenabled()
        with gc_paused:  # a second collection, in another thread of the same container
            assert not gc.isenabled()
        assert not gc.isenabled()  # the first is still running
    assert gc.isenabled()


def test_a_garbage_collector_turned_off_by_the_caller_stays_off(collector_enabled: None):
    gc.disable()
    with gc_paused:
        assert not gc.isenabled()
    assert not gc.isenabled()


def _requests(count: int) -> list[MetricRequest]:
    hour = datetime(2026, 11, 23, 10, tzinfo=UTC)
    return [
        MetricRequest(
            "AWS/EC2", "CPUUtilization", (("InstanceId", f"i-{index:05d}"),), "Average", 3600, hour, hour + HOUR
        )
        for index in range(count)
    ]


def test_get_metric_data_requests_as_planned_are_valid_for_botocore_s_model():
    # Given the requests the collector plans for 1,234 queries (botocore does not check them before sending)
    model = botocore.session.get_session().get_service_model("cloudwatch").operation_model("GetMetricData")
    for batch in cloudwatch.plan(_requests(1234)):
        params = {
            "MetricDataQueries": cloudwatch.queries(batch),
            "StartTime": batch[0].start,
            "EndTime": batch[0].end,
            "ScanBy": "TimestampDescending",
        }
        # Then each passes botocore's own check of the operation's input, and holds at most 500 queries
        validate_parameters(params, model.input_shape)
        assert len(params["MetricDataQueries"]) <= cloudwatch.MAX_QUERIES_PER_REQUEST


class _Sent(Exception):
    """The request got past botocore's checks and was about to leave."""


def _refuse_to_send(**_: Any) -> None:
    raise _Sent


def test_only_cloudwatch_requests_skip_botocore_s_check():
    # Given a factory whose requests never leave (refused just before sending)
    settings = Settings(endpoint_url="http://127.0.0.1:9")
    clients = ClientFactory(settings=settings, hooks=[("before-send", _refuse_to_send)])

    # Then a CloudWatch request botocore would refuse (MaxRecords under its minimum of 1) is left to CloudWatch
    with pytest.raises(_Sent):
        clients.client("cloudwatch", "eu-west-1").describe_alarms(MaxRecords=0)
    # and every other service's requests are still checked before they leave
    with pytest.raises(ParamValidationError):
        clients.client("ec2", "eu-west-1").describe_volumes(MaxResults="many")


def test_every_request_names_carbonmeter_and_its_version_in_the_customer_s_cloudtrail():
    # Given the clients of a factory and of one for a customer's assumed role, whose requests never leave
    sent: list[str] = []

    def _keep_user_agent(request: Any, **_: Any) -> None:
        sent.append(request.headers["User-Agent"].decode())  # botocore keeps the headers it has prepared as bytes
        raise _Sent

    settings = Settings(endpoint_url="http://127.0.0.1:9")
    clients = ClientFactory(settings=settings, hooks=[("before-send", _keep_user_agent)])
    customer = clients.for_session(clients.session)

    # When each sends a request, one of them through a paginator
    with pytest.raises(_Sent):
        clients.client("cloudwatch", "eu-west-1").get_metric_data(MetricDataQueries=[], StartTime=0, EndTime=1)
    with pytest.raises(_Sent):
        next(iter(customer.client("ec2", "eu-west-1").get_paginator("describe_volumes").paginate()))

    # Then both carry CarbonMeter's name and version, the SDK's versions beside it
    assert len(sent) == 2
    for user_agent in sent:
        assert user_agent.startswith(f"CarbonMeter/{carbonmeter.__version__} Boto3/")
        assert f"Botocore/{botocore.__version__}" in user_agent
