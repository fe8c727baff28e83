"""A realistic customer account on the embedded AWS: a mixed fleet and its CloudWatch history.

The fleet is every registered service's (``devtools/services/``): EC2 (x86 and Graviton, running and
stopped, one type absent from the reference coefficients), EBS (every volume type, attached and not), S3
(several storage classes), RDS (single and Multi-AZ), Lambda (x86_64 and arm64), ElastiCache and DynamoDB
(tables with global secondary indexes). Each service's module
says how its resources are created and what metrics they publish; this module sets up the account (its
read-only role), runs the services' recipes region by region, and lists what a collector should find.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from carbonmeter.aws import ClientFactory
from carbonmeter.collection import api_region
from carbonmeter.models import GLOBAL_REGION, Service
from devtools.aws import lifetimes
from devtools.services import DEVTOOLS_SERVICES, AccountSeeding, RegionSeeding
from devtools.services.base import ensure_role, split_count
from devtools.services.metrics import MetricWriter

DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-southeast-2")
READ_ONLY_ROLE_NAME = "CarbonMeterReadOnly"


@dataclass(frozen=True)
class RegionFleet:
    """What to create in one region: each service's items (its module's spec type), by service."""

    specs: Mapping[Service, tuple[Any, ...]]

    def of(self, service: Service) -> tuple[Any, ...]:
        return self.specs.get(service, ())

    def scaled(self, scale: int) -> RegionFleet:
        return RegionFleet(
            {service: DEVTOOLS_SERVICES[service].scaled(specs, scale) for service, specs in self.specs.items()}
        )


# The demo customer: per region, a web tier, a batch tier, storage, two databases and some functions.
DEMO_FLEET = RegionFleet({service: part.demo_fleet for service, part in DEVTOOLS_SERVICES.items()})


@dataclass(frozen=True)
class DemoAccount:
    """The seeded account, and what a collector should find in it.

    ``resources`` maps region -> service -> resource ids (EC2 instance ids of *running*
    instances, EBS volume ids including instances' root volumes, bucket names, RDS
    DBInstanceIdentifiers, Lambda function names). Stopped instances are listed apart. The global services'
    resources (CloudFront distributions) are under the pseudo-region ``global``, one key beside ``regions``.
    """

    account_id: str
    regions: tuple[str, ...]
    role_arn: str
    external_id: str
    hours: tuple[datetime, ...]
    resources: Mapping[str, Mapping[Service, tuple[str, ...]]]
    stopped_instances: Mapping[str, tuple[str, ...]]
    metric_datums: int

    @property
    def counts(self) -> dict[str, dict[Service, int]]:
        return {
            region: {service: len(ids) for service, ids in by_service.items()}
            for region, by_service in self.resources.items()
        }

    def count(self, service: Service | None = None, region: str | None = None) -> int:
        """Resources of ``service`` (all services if None) in ``region`` (all regions if None)."""
        return sum(
            len(ids)
            for name, by_service in self.resources.items()
            if region in (None, name)
            for kind, ids in by_service.items()
            if service in (None, kind)
        )


def seed_demo_account(
    clients: ClientFactory,
    regions: Sequence[str],
    hours: Sequence[datetime],
    *,
    scale: int = 1,
    rng_seed: int = 7,
) -> DemoAccount:
    """Create the demo fleet (``scale`` times over) in every region, with metrics for ``hours``.

    At scale 1 a region holds 38 resources a collector should find (plus two stopped
    instances, and CarbonMeter's own three tables in its home region when it is deployed
    into the same account); over the three ``DEFAULT_REGIONS``, scale 1, 10 and 100 give about
    100, 1,000 and 10,000. The same ``rng_seed`` gives the same metric values.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    fleet = DEMO_FLEET.scaled(scale)
    # A global service's demo items are the account's, once, however many regions it has.
    return _seed(clients, regions, dict.fromkeys(regions, fleet), fleet, hours, rng_seed)


def seed_fleet(
    clients: ClientFactory,
    regions: Sequence[str],
    resource_count: int,
    hours: Sequence[datetime],
    *,
    rng_seed: int = 7,
) -> DemoAccount:
    """Create exactly ``resource_count`` metric-bearing resources over ``regions``, shared by ``fleet_share``.

    Today that is running EC2, Lambda, S3 and RDS; instances bring their root volumes (EBS, without metrics);
    nothing else is added.
    """
    if resource_count < 0:
        raise ValueError("resource_count must not be negative")
    shares = split_count(resource_count, [1.0] * len(regions))
    fleets = {region: _mixed_fleet(count) for region, count in zip(regions, shares, strict=True)}
    # The global services' shares of every region's fleet are made once, together, in ``global``.
    global_fleet = RegionFleet(
        {
            service: tuple(spec for region in regions for spec in fleets[region].of(service))
            for service, part in DEVTOOLS_SERVICES.items()
            if part.is_global
        }
    )
    return _seed(clients, regions, fleets, global_fleet, hours, rng_seed)


def _mixed_fleet(count: int) -> RegionFleet:
    mixed = [(service, part) for service, part in DEVTOOLS_SERVICES.items() if part.fleet_share > 0]
    counts = split_count(count, [part.fleet_share for _, part in mixed])
    return RegionFleet({service: part.mixed(n) for (service, part), n in zip(mixed, counts, strict=True)})


def _seed(
    clients: ClientFactory,
    regions: Sequence[str],
    fleets: Mapping[str, RegionFleet],
    global_fleet: RegionFleet,
    hours: Sequence[datetime],
    rng_seed: int,
) -> DemoAccount:
    if not regions:
        raise ValueError("at least one region is needed")
    ordered_hours = _validated_hours(hours)
    account_id: str = clients.client("sts").get_caller_identity()["Account"]
    rng = random.Random(rng_seed)
    external_id = f"carbonmeter-demo-{rng.getrandbits(64):016x}"
    role_arn = _read_only_role(clients, account_id, external_id)
    account = AccountSeeding(clients, account_id)
    for part in DEVTOOLS_SERVICES.values():
        part.prepare_account(account)
    seeded = [
        _seed_region(account, region, fleets[region], ordered_hours, random.Random(f"{rng_seed}:{region}"))
        for region in regions
    ]
    # After every region, with a stream of its own: the regions' seeds keep their resources, ids and values.
    if any(part.is_global for part in DEVTOOLS_SERVICES.values()):
        seeded.append(
            _seed_region(
                account, GLOBAL_REGION, global_fleet, ordered_hours, random.Random(f"{rng_seed}:{GLOBAL_REGION}")
            )
        )
    _existed_through(account_id, regions, ordered_hours, seeded)
    return DemoAccount(
        account_id=account_id,
        regions=tuple(regions),
        role_arn=role_arn,
        external_id=external_id,
        hours=tuple(ordered_hours),
        resources={seeding.region: {s: tuple(ids) for s, ids in seeding.resources.items()} for seeding in seeded},
        stopped_instances={seeding.region: tuple(seeding.stopped_instances) for seeding in seeded},
        metric_datums=sum(seeding.metrics.written for seeding in seeded),
    )


# How long before the first seeded hour the fleet was made, and its stopped instances stopped.
_MADE_BEFORE = timedelta(days=1)
_STOPPED_BEFORE = timedelta(hours=12)
# The demo's instance that starts within the first hour, and the one that ends within the last.
_STARTED_AFTER = timedelta(minutes=30)
_ENDED_AFTER = timedelta(minutes=20)


def _existed_through(
    account_id: str, regions: Sequence[str], hours: Sequence[datetime], seeded: Sequence[RegionSeeding]
) -> None:
    """The fleet was made a day before the first seeded hour and its stopped instances stopped before it: moto
    stamps launch, creation and stop times with the time of the call, which would put them after the hours."""
    if not hours:
        return
    for region in regions:
        lifetimes.backdate(region, hours[0] - _MADE_BEFORE, account_id)
    for seeding in seeded:
        for instance_id in seeding.stopped_instances:
            lifetimes.set_ended(seeding.region, instance_id, hours[0] - _STOPPED_BEFORE, account_id)
        for instance_id in seeding.started_late:
            lifetimes.set_launch_time(seeding.region, instance_id, hours[0] + _STARTED_AFTER, account_id)
        for instance_id in seeding.ended_early:
            lifetimes.set_ended(seeding.region, instance_id, hours[-1] + _ENDED_AFTER, account_id)


def _validated_hours(hours: Iterable[datetime]) -> list[datetime]:
    checked = []
    for hour in hours:
        if hour.tzinfo is None or hour != hour.replace(minute=0, second=0, microsecond=0):
            raise ValueError(f"{hour!r} is not a whole hour with a timezone")
        checked.append(hour.astimezone(UTC))
    return sorted(set(checked))


def _read_only_role(clients: ClientFactory, account_id: str, external_id: str) -> str:
    """The role a CarbonMeter connection assumes: trusted with an ExternalId, allowed the read actions."""
    from carbonmeter.aws import allow_statements
    from carbonmeter.services import READ_ACTIONS, READ_RESOURCES

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
    arn = ensure_role(clients, READ_ONLY_ROLE_NAME, trust)
    policy = {
        "Version": "2012-10-17",
        "Statement": allow_statements(READ_ACTIONS, READ_RESOURCES),
    }
    clients.client("iam").put_role_policy(
        RoleName=READ_ONLY_ROLE_NAME, PolicyName="CarbonMeterRead", PolicyDocument=json.dumps(policy)
    )
    return arn


def _seed_region(
    account: AccountSeeding, region: str, fleet: RegionFleet, hours: Sequence[datetime], rng: random.Random
) -> RegionSeeding:
    """Every registered service's share of ``fleet``, in registry order, with its metrics.

    ``region`` ``global`` seeds the global services, every other region the regional ones.
    """
    seeding = RegionSeeding(
        account,
        region,
        hours,
        rng,
        # One business day per region: its resources peak around the same (UTC) hour.
        peak_hour=rng.uniform(0, 24),
        metrics=MetricWriter(account.clients.client("cloudwatch", api_region(region))),
    )
    for service, part in DEVTOOLS_SERVICES.items():
        if part.attaches_to is None and part.is_global is (region == GLOBAL_REGION):
            _seed_service(seeding, fleet, service)
    seeding.metrics.flush()
    return seeding


def _seed_service(seeding: RegionSeeding, fleet: RegionFleet, service: Service) -> None:
    """One service's resources, then those of the services attached to them, then its metrics."""
    part = DEVTOOLS_SERVICES[service]
    part.create(seeding, fleet.of(service))
    for attached, other in DEVTOOLS_SERVICES.items():
        if other.attaches_to == service:
            _seed_service(seeding, fleet, attached)
    part.publish(seeding, fleet.of(service))
