"""The local pipeline: the real handlers on moto's server, fed real event shapes.

``enforce_cloudwatch_limits`` comes from ``tests/conftest.py``; ``LocalCloud`` and what tests do with it from
``tests/support/local_cloud.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from carbonmeter.aws import ClientFactory, EventHook
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.settings import Settings
from devtools.aws.pipeline import LocalPipeline, lambda_environment
from devtools.aws.resources import create_resources
from devtools.aws.server import embedded_aws
from devtools.seed import seed_demo_account
from tests.support.cloudwatch import CloudWatchLimits
from tests.support.local_cloud import REGIONS, LocalCloud, last_hours


@pytest.fixture
def local_cloud(enforce_cloudwatch_limits: CloudWatchLimits) -> Iterator[Callable[..., LocalCloud]]:
    """Builds the local cloud; hooks given are added to every client the handlers use."""
    with embedded_aws():
        setup = ClientFactory(settings=Settings(region="us-east-1"))
        settings = create_resources(setup, setup.settings)

        def build(
            hours: int = 3, hooks: tuple[EventHook, ...] = (), seeded_hours: list[datetime] | None = None
        ) -> LocalCloud:
            """``seeded_hours``: these hours instead of the latest ``hours``."""
            clients = ClientFactory(settings=settings)
            account = seed_demo_account(clients, REGIONS, seeded_hours or last_hours(hours))
            handler_clients = ClientFactory(settings=settings, hooks=(*hooks, enforce_cloudwatch_limits.hook))
            pipeline = LocalPipeline(clients, settings, account_id=account.account_id)
            return LocalCloud(settings, clients, account, pipeline, handler_clients)

        with lambda_environment(settings):
            yield build


@pytest.fixture
def handlers_on(local_cloud: Callable[..., LocalCloud]) -> Callable[[LocalCloud], Any]:
    """Runs the handlers with the cloud's client factory (and its hooks)."""

    def use(cloud: LocalCloud) -> Any:
        return use_runtime(Runtime(settings=cloud.settings, clients=cloud.handler_clients))

    return use
