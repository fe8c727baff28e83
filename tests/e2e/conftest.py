"""The local pipeline: the real handlers on moto's server, fed real event shapes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from carbonmeter.aws import ClientFactory, EventHook
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.scheduling import settled_end
from carbonmeter.settings import Settings
from devtools.aws.pipeline import LocalPipeline, lambda_environment
from devtools.aws.resources import create_resources
from devtools.aws.server import embedded_aws
from devtools.seed import DemoAccount, seed_demo_account
from tests.integration.conftest import CloudWatchLimits, enforce_cloudwatch_limits

__all__ = ["enforce_cloudwatch_limits"]

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


@dataclass
class LocalCloud:
    """A deployed CarbonMeter and a seeded customer account, both on the embedded AWS."""

    settings: Settings
    clients: ClientFactory
    account: DemoAccount
    pipeline: LocalPipeline
    handler_clients: ClientFactory

    @property
    def hours(self) -> tuple[datetime, ...]:
        return self.account.hours


def deny_assume_role(role_name_part: str) -> EventHook:
    """A hook that makes STS refuse AssumeRole for matching roles, as for a wrong ExternalId."""

    def refuse(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if role_name_part not in str(params.get("body", "")):
            return None
        error = {"Code": "AccessDenied", "Message": "User is not authorized to perform: sts:AssumeRole"}
        return AWSResponse("https://sts.invalid/", 403, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    return ("before-call.sts.AssumeRole", refuse)


def last_hours(count: int) -> list[datetime]:
    """The latest ``count`` hours the collector accepts now (ended, and past their settling delay)."""
    end = settled_end(datetime.now(UTC), Settings())
    return [end - timedelta(hours=count - i) for i in range(count)]


@pytest.fixture
def local_cloud(enforce_cloudwatch_limits: CloudWatchLimits) -> Iterator[Callable[..., LocalCloud]]:
    """Builds the local cloud; hooks given are added to every client the handlers use."""
    with embedded_aws():
        setup = ClientFactory(settings=Settings(region="us-east-1"))
        settings = create_resources(setup, setup.settings)

        def build(hours: int = 3, hooks: tuple[EventHook, ...] = ()) -> LocalCloud:
            clients = ClientFactory(settings=settings)
            account = seed_demo_account(clients, REGIONS, last_hours(hours))
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
