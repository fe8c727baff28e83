"""The shape every service's workbench part has, and the context seeding gives it.

Each AWS service CarbonMeter meters has one slice in the Lambda library (``carbonmeter/services/``) and one
workbench part here: its embedded-AWS recipe (what a seeded fleet of it is made of, how seeding creates those
resources on moto and publishes their CloudWatch metrics for the hours) and its fault shapes (how the APIs it
calls throttle and fail, as the fault injector and the soak's fault plan make them). ``ServiceDevtools`` is the
base; each module of this package holds one variant, and ``devtools/services/__init__.py`` registers it.
"""

from __future__ import annotations

import json
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from carbonmeter.aws import ClientFactory
from carbonmeter.collection import api_region
from carbonmeter.models import Service
from carbonmeter.services import SLICES
from devtools.services.metrics import MetricWriter

# An error answer: (error code, HTTP status).
ErrorShape = tuple[str, int]


@dataclass(frozen=True)
class ClientFaults:
    """How one AWS API (a boto3 client, by botocore's name) answers when it throttles or refuses a region.

    ``soak_order`` is this client's place among the soak's per-client fault rules, lowest first. The rules'
    numbers and the retry counts the soak draws for them follow that order, so a seed keeps its faults only
    while the numbers stay: a new client takes the next free number.
    """

    client: str
    throttling: ErrorShape
    # What it answers for credentials used in a region the account has not opted into; None if never asked so.
    region_not_enabled: ErrorShape | None
    soak_order: int
    # Its calls go to the customer's regions, so a regional outage there fails them (CarbonMeter's own
    # tables, queues and STS calls stay in its home region, which the soak's outage spares; DynamoDB's API
    # serves both, and an outage fails only its calls signed for the region that is down).
    in_customer_regions: bool = True


@dataclass
class AccountSeeding:
    """The customer account being seeded: shared by every region."""

    clients: ClientFactory
    account_id: str
    # IAM roles a recipe created for the whole account (``prepare_account``), name -> ARN.
    roles: dict[str, str] = field(default_factory=dict)


@dataclass
class RegionSeeding:
    """One region being seeded: where recipes create resources, publish metrics and list what they made.

    ``region`` may be ``global``, where the global services' parts are seeded once per account; their clients
    are then those of ``GLOBAL_API_REGION``, as the collector's are.

    Recipes run in the registry's order, each drawing from ``rng`` in turn, and every call they make draws from
    moto's id generator; the same seeds give the same resources, ids and values only while that order and each
    recipe's draws and calls stay as they are.
    """

    account: AccountSeeding
    region: str
    hours: Sequence[datetime]
    rng: random.Random
    # The region's business day: its resources peak around this (UTC) hour.
    peak_hour: float
    metrics: MetricWriter
    # What a collector should find, by service (EC2 adds its instances' root volumes to EBS).
    resources: dict[Service, list[str]] = field(default_factory=lambda: {service: [] for service in Service})
    stopped_instances: list[str] = field(default_factory=list)
    # (instance id, availability zone) of the instances left running: where EBS attaches its volumes.
    running_instances: list[tuple[str, str]] = field(default_factory=list)
    # Instances that start 30 minutes into the first hour, and that end (terminated) 20 minutes into the last:
    # the first are among the running ones, the second not (nothing attaches to them); seeding sets their times.
    started_late: list[str] = field(default_factory=list)
    ended_early: list[str] = field(default_factory=list)

    def client(self, name: str) -> Any:
        return self.account.clients.client(name, api_region(self.region))


SpecT = TypeVar("SpecT")

# Class attributes every concrete part must set; checked when the class is defined, so a part missing one fails
# at import.
_REQUIRED = ("service", "clients", "demo_fleet", "fleet_share")


class ServiceDevtools(ABC, Generic[SpecT]):
    """One service's workbench part: its embedded-AWS recipe and its fault shapes.

    ``SpecT`` describes one item of a seeded fleet of the service (an instance group, a volume, a bucket...).
    """

    service: Service
    # Fault shapes: every AWS API its slice calls beyond the common ones (``COMMON_CLIENT_FAULTS``), and a common
    # one its slice calls as its own service's API (DynamoDB's) by the common shape itself.
    clients: tuple[ClientFaults, ...]
    # The demo account's items of this service, per region, at scale 1.
    demo_fleet: tuple[SpecT, ...]
    # The service's share of ``seed_fleet``'s mixed fleet of metric-bearing resources; 0 leaves it out.
    fleet_share: float
    # The service whose resources this one's attach to (EBS volumes: EC2 instances). It is seeded within that
    # service's step: after its ``create``, before its ``publish``.
    attaches_to: Service | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [name for name in _REQUIRED if not hasattr(cls, name)]
        if missing:
            raise TypeError(f"service devtools {cls.__name__} does not set {', '.join(missing)}")

    @property
    def is_global(self) -> bool:
        """Whether its slice is global (seeded once per account, in ``global``) rather than in every region."""
        return SLICES[self.service].is_global

    def prepare_account(self, account: AccountSeeding) -> None:
        """Create what the service needs account-wide before any region is seeded (most need nothing)."""

    @abstractmethod
    def create(self, seeding: RegionSeeding, specs: Sequence[SpecT]) -> None:
        """Create ``specs`` in the region and note them in ``seeding.resources``.

        A service whose values are drawn resource by resource, right after each is made, publishes its metrics
        here too: moving those draws or calls would change what a seed gives.
        """

    def publish(self, seeding: RegionSeeding, specs: Sequence[SpecT]) -> None:
        """Publish the metrics of what ``create`` made, once the services attached to it are seeded."""

    def scaled(self, specs: Sequence[SpecT], scale: int) -> tuple[SpecT, ...]:
        """``specs`` ``scale`` times over."""
        return tuple(specs) * scale

    def mixed(self, count: int) -> tuple[SpecT, ...]:
        """``count`` items for a mixed fleet: the demo fleet's, in turn."""
        if not self.demo_fleet:
            return ()
        return tuple(self.demo_fleet[index % len(self.demo_fleet)] for index in range(count))


def split_count(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` shared out in proportion to ``weights``, largest remainders first; sums to ``total``."""
    if not weights:
        raise ValueError("at least one region is needed")
    exact = [total * weight / sum(weights) for weight in weights]
    parts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda index: parts[index] - exact[index])
    for index in by_remainder[: total - sum(parts)]:
        parts[index] += 1
    return parts


def ensure_role(clients: ClientFactory, name: str, trust: Mapping[str, Any]) -> str:
    """The ARN of role ``name`` with trust policy ``trust``, created or updated."""
    iam = clients.client("iam")
    try:
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    return arn
