"""EBS on the workbench: volumes of every type, attached to running instances or not (no metrics).

Seeding runs within EC2's step (``attaches_to``), once the instances run and before their metrics, so attached
volumes go to the instances EC2 left running, in turn, on /dev/sdf onwards; the others go to the region's first
availability zone. EBS is part of the EC2 API.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonmeter.models import Service
from devtools.services.base import RegionSeeding, ServiceDevtools
from devtools.services.ec2 import EC2_API


@dataclass(frozen=True)
class VolumeSpec:
    volume_type: str
    size_gib: int
    attached: bool
    iops: int | None = None


class EbsDevtools(ServiceDevtools[VolumeSpec]):
    service = Service.EBS
    clients = (EC2_API,)
    demo_fleet = (
        VolumeSpec("gp3", 100, attached=True),
        VolumeSpec("gp2", 50, attached=True),
        VolumeSpec("io1", 200, attached=True, iops=4000),
        VolumeSpec("st1", 500, attached=False),
        VolumeSpec("sc1", 1000, attached=False),
        VolumeSpec("gp3", 20, attached=False),
    )
    # Volumes carry no metrics: a mixed fleet gets its EBS from the instances' root volumes only.
    fleet_share = 0.0
    attaches_to = Service.EC2

    def create(self, seeding: RegionSeeding, specs: Sequence[VolumeSpec]) -> None:
        _create_volumes(seeding.client("ec2"), specs, seeding.running_instances, seeding.resources[Service.EBS])


def _create_volumes(
    ec2: Any, volumes: Sequence[VolumeSpec], running: Sequence[tuple[str, str]], found: list[str]
) -> None:
    devices: dict[str, int] = defaultdict(int)
    targets = itertools.cycle(running)
    spare_zone: str | None = None
    for volume in volumes:
        target = next(targets) if volume.attached and running else None
        if target:
            zone = target[1]
        else:
            spare_zone = spare_zone or _first_zone(ec2)
            zone = spare_zone
        params: dict[str, Any] = {"AvailabilityZone": zone, "Size": volume.size_gib, "VolumeType": volume.volume_type}
        if volume.iops:
            params["Iops"] = volume.iops
        volume_id = ec2.create_volume(**params)["VolumeId"]
        if target:
            instance_id = target[0]
            # /dev/sdf onwards: the names AWS recommends for data volumes.
            device = f"/dev/sd{chr(ord('f') + devices[instance_id])}"
            devices[instance_id] += 1
            ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)
        found.append(volume_id)


def _first_zone(ec2: Any) -> str:
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    return str(min(zone["ZoneName"] for zone in zones))


DEVTOOLS = EbsDevtools()
