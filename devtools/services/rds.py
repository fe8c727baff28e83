"""RDS on the workbench: database instances (single and Multi-AZ, gp2 and io1) and their CPUUtilization.

RDS publishes every minute, so each hourly datum carries 60 samples. The slice also reads instance types
through the EC2 API.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.ec2 import EC2_API
from devtools.services.metrics import MetricWriter, Profile, clamp, mean_datum

SAMPLES_PER_HOUR = 60  # RDS publishes every minute

RDS_API = ClientFaults(
    "rds", throttling=("Throttling", 400), region_not_enabled=("InvalidClientTokenId", 403), soak_order=3
)


@dataclass(frozen=True)
class DatabaseSpec:
    engine: str
    instance_class: str
    storage_type: str
    allocated_gib: int
    multi_az: bool
    iops: int | None = None


class RdsDevtools(ServiceDevtools[DatabaseSpec]):
    service = Service.RDS
    clients = (RDS_API, EC2_API)
    demo_fleet = (
        DatabaseSpec("mysql", "db.t3.medium", "gp2", 100, multi_az=False),
        DatabaseSpec("postgres", "db.m5.large", "io1", 400, multi_az=True, iops=3000),
    )
    fleet_share = 0.05

    def create(self, seeding: RegionSeeding, specs: Sequence[DatabaseSpec]) -> None:
        # Each database draws its password, then its profile, then its metrics: interleaved, as seeds expect.
        for index, database in enumerate(specs):
            identifier = _create_database(seeding.client("rds"), index, database, seeding.rng)
            seeding.resources[Service.RDS].append(identifier)
            profile = Profile.draw(seeding.rng, seeding.peak_hour)
            _put_database_metrics(seeding.metrics, identifier, profile, seeding.hours, seeding.rng)


def _create_database(rds: Any, index: int, database: DatabaseSpec, rng: random.Random) -> str:
    identifier = f"demo-{database.engine}-{index:05d}"
    params: dict[str, Any] = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceClass": database.instance_class,
        "Engine": database.engine,
        "AllocatedStorage": database.allocated_gib,
        "StorageType": database.storage_type,
        "MultiAZ": database.multi_az,
        "MasterUsername": "demoadmin",
        "MasterUserPassword": f"Demo{rng.getrandbits(64):016x}",
    }
    if database.iops:
        params["Iops"] = database.iops
    with contextlib.suppress(rds.exceptions.DBInstanceAlreadyExistsFault):
        rds.create_db_instance(**params)
    return identifier


def _put_database_metrics(
    metrics: MetricWriter, identifier: str, profile: Profile, hours: Sequence[datetime], rng: random.Random
) -> None:
    dimensions = [{"Name": "DBInstanceIdentifier", "Value": identifier}]
    for hour in hours:
        cpu = clamp(profile.base + profile.swing * profile.load(hour) + rng.gauss(0, 2), 5, 80)
        metrics.add("AWS/RDS", mean_datum("CPUUtilization", dimensions, hour, cpu, SAMPLES_PER_HOUR, "Percent", rng))


DEVTOOLS = RdsDevtools()
