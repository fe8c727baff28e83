"""Lambda on the workbench: functions (x86_64 and arm64, 128 MB to 3 GB) and their Invocations and Duration.

The functions run as one account-wide role, created before any region is seeded. A function not invoked in an
hour publishes nothing for it.
"""

from __future__ import annotations

import contextlib
import io
import random
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from devtools.services.base import AccountSeeding, ClientFaults, RegionSeeding, ServiceDevtools, ensure_role
from devtools.services.metrics import MetricWriter, Profile, datum

FUNCTION_ROLE_NAME = "carbonmeter-demo-function"
_RUNTIME = "python3.12"
_HANDLER_SOURCE = "def handler(event, context):\n    return {'ok': True}\n"

LAMBDA_API = ClientFaults(
    "lambda",
    throttling=("TooManyRequestsException", 429),
    region_not_enabled=("UnrecognizedClientException", 403),
    soak_order=4,
)


@dataclass(frozen=True)
class FunctionSpec:
    architecture: str
    memory_mb: int
    mean_duration_ms: float
    peak_invocations_per_hour: int


class LambdaDevtools(ServiceDevtools[FunctionSpec]):
    service = Service.LAMBDA
    clients = (LAMBDA_API,)
    demo_fleet = (
        FunctionSpec("x86_64", 128, 45, 3000),
        FunctionSpec("arm64", 1024, 220, 800),
        FunctionSpec("x86_64", 3008, 1800, 60),
        FunctionSpec("arm64", 512, 90, 12000),
    )
    fleet_share = 0.2

    def prepare_account(self, account: AccountSeeding) -> None:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        account.roles[FUNCTION_ROLE_NAME] = ensure_role(account.clients, FUNCTION_ROLE_NAME, trust)

    def create(self, seeding: RegionSeeding, specs: Sequence[FunctionSpec]) -> None:
        # Each function is made, then its profile and values drawn: interleaved, as seeds expect.
        role_arn = seeding.account.roles[FUNCTION_ROLE_NAME]
        code = _handler_zip()
        for index, function in enumerate(specs):
            name = _create_function(seeding.client("lambda"), index, function, role_arn, code)
            seeding.resources[Service.LAMBDA].append(name)
            profile = Profile.draw(seeding.rng, seeding.peak_hour)
            _put_function_metrics(seeding.metrics, name, function, profile, seeding.hours, seeding.rng)


def _handler_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", _HANDLER_SOURCE)
    return buffer.getvalue()


def _create_function(lambda_: Any, index: int, function: FunctionSpec, role_arn: str, code: bytes) -> str:
    name = f"demo-{function.architecture}-{function.memory_mb}mb-{index:05d}"
    with contextlib.suppress(lambda_.exceptions.ResourceConflictException):
        lambda_.create_function(
            FunctionName=name,
            Runtime=_RUNTIME,
            Role=role_arn,
            Handler="index.handler",
            Code={"ZipFile": code},
            MemorySize=function.memory_mb,
            Architectures=[function.architecture],
        )
    return name


def _put_function_metrics(
    metrics: MetricWriter,
    name: str,
    function: FunctionSpec,
    profile: Profile,
    hours: Sequence[datetime],
    rng: random.Random,
) -> None:
    dimensions = [{"Name": "FunctionName", "Value": name}]
    for hour in hours:
        invocations = round(
            function.peak_invocations_per_hour * (0.05 + 0.95 * profile.load(hour)) * rng.uniform(0.7, 1.3)
        )
        if invocations == 0:
            # A function that was not invoked publishes nothing for the hour.
            continue
        mean_ms = function.mean_duration_ms * rng.uniform(0.8, 1.25)
        metrics.add(
            "AWS/Lambda",
            datum("Invocations", dimensions, hour, "Count", count=invocations, total=invocations, low=1, high=1),
        )
        metrics.add(
            "AWS/Lambda",
            datum(
                "Duration",
                dimensions,
                hour,
                "Milliseconds",
                count=invocations,
                total=mean_ms * invocations,
                low=mean_ms * 0.3,
                high=mean_ms * 3,
            ),
        )


DEVTOOLS = LambdaDevtools()
