"""Shared fixtures for tests that run against the embedded AWS (moto).

Every test here gets fake credentials and the CloudWatch limit check automatically (the
``enforce_cloudwatch_limits`` fixture of ``tests/conftest.py``, which other tiers request by name
or with ``pytestmark = pytest.mark.usefixtures("enforce_cloudwatch_limits")``). Any GetMetricData
request with more than 500 queries, or with a missing, malformed or repeated query Id, then
raises in the caller and fails the test at teardown even if the caller swallowed the error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from carbonmeter import cli, keys
from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.collection import api_region, collect_region
from carbonmeter.models import UsageRecord
from carbonmeter.services import ServiceCollector
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore
from devtools.aws.dynamodb_speed import dynamodb_answers_fast
from devtools.aws.elasticache_serverless import elasticache_serverless
from devtools.aws.lifetimes import backdate
from devtools.aws.redshift_serverless import redshift_serverless
from devtools.aws.resources import create_resources
from devtools.aws.sqs_speed import sqs_sends_fast
from tests.support.cloudwatch import CloudWatchLimits
from tests.support.connections import connection_for

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


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
    with mock_aws(), redshift_serverless(), elasticache_serverless(), dynamodb_answers_fast(), sqs_sends_fast():
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


@pytest.fixture
def collect(clients: ClientFactory) -> Callable[[ServiceCollector, str, datetime], list[UsageRecord]]:
    """Runs one service's collection for one region-hour (or ``global``) the way the collector Lambda does.

    Moto stamps launch and creation times with the time of the call: the resources are first made to exist since a
    day before the hour (``tests/integration/test_lifetimes.py`` sets its own times instead).
    """

    def run(collector: ServiceCollector, region: str, hour: datetime) -> list[UsageRecord]:
        backdate(api_region(region), hour - timedelta(days=1))
        usage = collect_region(clients, region, [collector], connection_for(api_region(region)), [hour])
        return sorted(usage.records, key=keys.resource_key)

    return run


@pytest.fixture
def registry(aws, monkeypatch):
    """The connections table on the embedded AWS, for the CLI's connection commands."""
    # The operator's shell may export an ExternalId; each test says where its own comes from.
    monkeypatch.delenv(cli.EXTERNAL_ID_ENV, raising=False)
    factory = ClientFactory(settings=Settings())
    create_resources(factory, factory.settings)
    return ConnectionStore(factory, factory.settings.connections_table)
