"""Fixtures shared by the tiers that talk to an emulated AWS (their helpers live in ``tests/support/``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import botocore.handlers
import pytest

from carbonmeter.rate_limit import METRIC_DATA_LIMITS
from carbonmeter.services import instance_types
from carbonmeter.services.ecs import TASK_DEFINITION_SIZES
from carbonmeter.services.instance_types import CATALOGUE, InstanceTypeCatalogue
from tests.support.cloudwatch import CloudWatchLimits
from tests.support.offline import OFFLINE_ENV

# Powertools reads these when a handler module is imported, which happens at collection time.
for _name, _value in {
    "POWERTOOLS_SERVICE_NAME": "carbonmeter",
    "POWERTOOLS_METRICS_NAMESPACE": "CarbonMeter",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    # jsii would print Node 20's end-of-life banner as bytes literals on every synthesis (devtools/__init__.py).
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no profile, so nothing can reach a real account."""
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def enforce_cloudwatch_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudWatchLimits]:
    """Checks GetMetricData requests of every boto3 session created while the test runs.

    Sessions register botocore's built-in handlers when created (moto hooks in the same way),
    so adding the check there covers sessions made deep inside the code under test, such as
    the ones built from assumed-role credentials. A test that provokes a violation on purpose
    clears ``violations`` once it has asserted on it. Integration tests get it automatically;
    other tiers request it.
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with slow end-to-end tests first, whole: a worker starts each of them at once while the other workers
    share the rest, instead of one of them running alone at the end of the suite (pytest-xdist hands out files in
    this order). A file stays in one piece, so its module fixtures are built once."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(autouse=True)
def _fresh_instance_type_catalogue() -> Iterator[None]:
    """Each test starts with the container's instance-type catalogue (the layer's snapshot, nothing asked yet) and
    task definition sizes empty, as a cold Lambda does."""
    CATALOGUE.clear()
    TASK_DEFINITION_SIZES.clear()
    yield
    CATALOGUE.clear()
    TASK_DEFINITION_SIZES.clear()


@pytest.fixture(autouse=True)
def _fresh_metric_data_limits() -> Iterator[None]:
    """Each test starts with no GetMetricData pacing carried over from another, as a cold Lambda does."""
    METRIC_DATA_LIMITS.clear()
    yield
    METRIC_DATA_LIMITS.clear()


@pytest.fixture
def no_instance_type_snapshot(monkeypatch: pytest.MonkeyPatch) -> InstanceTypeCatalogue:
    """The container's catalogue with an empty snapshot: every instance type is asked of EC2, as a type newer than
    the layer's snapshot is. For tests of that path (its DescribeInstanceTypes calls and batches, its IAM action,
    the members of its answers), since the snapshot holds every type the embedded AWS knows."""
    catalogue = InstanceTypeCatalogue(snapshot={})
    monkeypatch.setattr(instance_types, "CATALOGUE", catalogue)
    return catalogue
