"""Shared fixtures for tests that run against the embedded AWS (moto).

Every test here gets fake credentials and the CloudWatch limit check automatically. To use
the check from another test package, import the fixture into the test module::

    from tests.integration.conftest import enforce_cloudwatch_limits  # noqa: F401

and request ``enforce_cloudwatch_limits`` (or mark the module with
``pytestmark = pytest.mark.usefixtures("enforce_cloudwatch_limits")``). Any GetMetricData
request with more than 500 queries, or with a missing, malformed or repeated query Id, then
raises in the caller and fails the test at teardown even if the caller swallowed the error.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from carbonmeter import keys
from carbonmeter.aws import ApiCallCounter, ClientFactory, EventHook
from carbonmeter.cloudwatch import MAX_QUERIES_PER_REQUEST
from carbonmeter.collection import collect_region
from carbonmeter.models import Connection, UsageRecord
from carbonmeter.services import ServiceCollector
from carbonmeter.settings import Settings

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_GET_METRIC_DATA_PARAMS = "before-parameter-build.cloudwatch.GetMetricData"


class CloudWatchLimitExceeded(AssertionError):
    """A GetMetricData request that the real CloudWatch would reject."""


class CloudWatchLimits:
    """Checks every GetMetricData request against the limits moto does not enforce."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.query_counts: list[int] = []

    @property
    def hook(self) -> EventHook:
        """The check as a ClientFactory hook, for clients built outside the fixture's reach."""
        return (_GET_METRIC_DATA_PARAMS, self.check)

    def check(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("NextToken"):
            return  # a later page repeats the first page's queries, already checked
        queries = params.get("MetricDataQueries", [])
        self.query_counts.append(len(queries))
        ids = [query.get("Id", "") for query in queries]
        problems = []
        if not 1 <= len(queries) <= MAX_QUERIES_PER_REQUEST:
            problems.append(f"{len(queries)} MetricDataQueries (CloudWatch accepts 1 to {MAX_QUERIES_PER_REQUEST})")
        if bad := [query_id for query_id in ids if not _QUERY_ID.match(query_id)]:
            problems.append(f"invalid query Ids {bad[:5]}")
        if len(set(ids)) != len(ids):
            problems.append("repeated query Ids")
        if problems:
            self.violations.extend(problems)
            raise CloudWatchLimitExceeded("GetMetricData request rejected: " + "; ".join(problems))


@pytest.fixture
def enforce_cloudwatch_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudWatchLimits]:
    """Checks GetMetricData requests of every boto3 session created while the test runs.

    Sessions register botocore's built-in handlers when created (moto hooks in the same way),
    so adding the check there covers sessions made deep inside the code under test, such as
    the ones built from assumed-role credentials. A test that provokes a violation on purpose
    clears ``violations`` once it has asserted on it.
    """
    limits = CloudWatchLimits()
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, limits.hook])
    default_session = boto3.DEFAULT_SESSION
    if default_session is not None:
        default_session.events.register(*limits.hook)
    yield limits
    # The default session may have been created during the test, picking the check up; drop it.
    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION.events.unregister(*limits.hook)
    if limits.violations:
        pytest.fail(f"GetMetricData limits broken: {limits.violations}")


@pytest.fixture(autouse=True)
def _cloudwatch_limits_everywhere(enforce_cloudwatch_limits: CloudWatchLimits) -> CloudWatchLimits:
    return enforce_cloudwatch_limits


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, so nothing can reach a real account even if a mock is missing."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture(params=REGIONS)
def region(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs once per region, us-east-1 (the odd one for S3) included."""
    return str(request.param)


@pytest.fixture
def settings() -> Settings:
    return Settings(region="us-east-1", max_attempts=2)


@pytest.fixture
def counter() -> ApiCallCounter:
    return ApiCallCounter()


@pytest.fixture
def clients(aws: None, settings: Settings, counter: ApiCallCounter) -> ClientFactory:
    """A ClientFactory on the embedded AWS, counting calls into ``counter``."""
    return ClientFactory(boto3.Session(), settings=settings, counter=counter)


class GetMetricDataPager:
    """Makes the embedded CloudWatch paginate GetMetricData the way the real one does.

    moto answers every request in one page. With these hooks a response holds at most
    ``max_datapoints`` values across all its results; the rest comes back, page by page,
    to requests carrying the NextToken, and cut results say ``PartialData``.
    """

    def __init__(self, max_datapoints: int) -> None:
        self.max_datapoints = max_datapoints
        self.pages_served = 0
        self._remainders: dict[str, dict[str, Any]] = {}

    def hooks(self) -> list[EventHook]:
        return [
            ("before-parameter-build.cloudwatch.GetMetricData", self._remember_token),
            # Registered on the generic event so that call counters, registered before it, still see the page.
            ("before-call", self._serve_remainder),
            ("after-call.cloudwatch.GetMetricData", self._cut_page),
        ]

    def _remember_token(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["pager_token"] = params.get("NextToken")

    def _serve_remainder(
        self, model: Any, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        token = context.get("pager_token")
        if model.name != "GetMetricData" or not token:
            return None
        remainder = self._remainders.pop(token)
        return AWSResponse("https://monitoring.invalid/", 200, {}, None), remainder

    def _cut_page(self, parsed: dict[str, Any], **_: Any) -> None:
        self.pages_served += 1
        budget = self.max_datapoints
        remainder = copy.deepcopy(parsed)
        for kept, rest in zip(parsed["MetricDataResults"], remainder["MetricDataResults"], strict=True):
            count = min(budget, len(kept.get("Values", [])))
            budget -= count
            for field in ("Values", "Timestamps"):
                kept[field], rest[field] = kept.get(field, [])[:count], kept.get(field, [])[count:]
            kept["StatusCode"] = "PartialData" if rest["Values"] else "Complete"
        remainder["MetricDataResults"] = [result for result in remainder["MetricDataResults"] if result["Values"]]
        parsed.pop("NextToken", None)
        if remainder["MetricDataResults"]:
            token = uuid.uuid4().hex
            self._remainders[token] = remainder
            parsed["NextToken"] = token


ACCOUNT_ID = "123456789012"


def connection_for(*regions: str) -> Connection:
    return Connection(
        connection_id="acme-prod",
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/CarbonMeterReadOnly",
        external_id="acme-external-id",
        regions=regions,
    )


@pytest.fixture
def collect(clients: ClientFactory) -> Callable[[ServiceCollector, str, datetime], list[UsageRecord]]:
    """Runs one service's collection for one region-hour the way the collector Lambda does."""

    def run(collector: ServiceCollector, region: str, hour: datetime) -> list[UsageRecord]:
        usage = collect_region(clients, region, [collector], connection_for(region), [hour])
        return sorted(usage.records, key=keys.resource_key)

    return run
