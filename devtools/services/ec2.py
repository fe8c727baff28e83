"""EC2 on the workbench: instance groups (x86 and Graviton, running and stopped, tagged), their CPU and network.

Seeding launches each group from an Amazon Linux 2023 image of its architecture, stops and tags some, and
publishes CPUUtilization and NetworkOut for the running ones with 5-minute (basic monitoring) sample counts.
Instances bring root volumes, which count as EBS resources. EBS and RDS call the same EC2 API; the EC2 slice calls
ECS's too, to name the ECS cluster of container instances.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools, split_count
from devtools.services.metrics import MetricWriter, Profile, clamp, mean_datum, total_datum

SAMPLES_PER_HOUR = 12  # basic monitoring: one datapoint every 5 minutes
_AL2023_NAME_FILTER = {"Name": "name", "Values": ["al2023-ami-2023*"]}

EC2_API = ClientFaults(
    "ec2", throttling=("RequestLimitExceeded", 503), region_not_enabled=("AuthFailure", 401), soak_order=1
)
# ECS's API, here because the EC2 slice calls it too (the ECS cluster of each container instance).
ECS_API = ClientFaults(
    "ecs",
    throttling=("ThrottlingException", 400),
    region_not_enabled=("UnrecognizedClientException", 403),
    soak_order=15,
)


@dataclass(frozen=True)
class InstanceGroup:
    instance_type: str
    count: int
    stopped: int = 0
    tagged: int = 0
    # Of the running ones: how many start 30 minutes into the first seeded hour, and how many are terminated 20
    # minutes into the last (``seed.py`` sets the times; their readings cover only the minutes they ran).
    starts_late: int = 0
    ends_early: int = 0


class Ec2Devtools(ServiceDevtools[InstanceGroup]):
    service = Service.EC2
    clients = (EC2_API, ECS_API)
    demo_fleet = (
        InstanceGroup("m5.large", 3, stopped=1, tagged=1),
        InstanceGroup("t3.medium", 3, stopped=1),
        InstanceGroup("c6g.xlarge", 2, tagged=1),
        InstanceGroup("r5.2xlarge", 1),
        # Not in the reference coefficients: exercises the collector's fallback for unknown types.
        InstanceGroup("m7i.large", 1),
        # An instance that starts, and one that ends, within the hour: charged the share they ran.
        InstanceGroup("m5.large", 2, starts_late=1, ends_early=1),
    )
    fleet_share = 0.6

    def scaled(self, specs: Sequence[InstanceGroup], scale: int) -> tuple[InstanceGroup, ...]:
        # Larger groups rather than more of them: one RunInstances call per type, as at scale 1.
        return tuple(
            replace(
                group,
                count=group.count * scale,
                stopped=group.stopped * scale,
                tagged=group.tagged * scale,
                starts_late=group.starts_late * scale,
                ends_early=group.ends_early * scale,
            )
            for group in specs
        )

    def mixed(self, count: int) -> tuple[InstanceGroup, ...]:
        # Running instances only, spread evenly over the demo fleet's types.
        types = [group.instance_type for group in self.demo_fleet]
        per_type = split_count(count, [1.0] * len(types))
        return tuple(InstanceGroup(kind, n) for kind, n in zip(types, per_type, strict=True) if n)

    def create(self, seeding: RegionSeeding, specs: Sequence[InstanceGroup]) -> None:
        _create_instances(seeding.client("ec2"), specs, seeding)

    def publish(self, seeding: RegionSeeding, specs: Sequence[InstanceGroup]) -> None:
        for instance_id in [instance_id for instance_id, _ in seeding.running_instances] + seeding.ended_early:
            profile = Profile.draw(seeding.rng, seeding.peak_hour)
            samples = _samples(seeding, instance_id)
            put_instance_metrics(seeding.metrics, instance_id, profile, seeding.hours, seeding.rng, samples)


def _create_instances(ec2: Any, groups: Sequence[InstanceGroup], seeding: RegionSeeding) -> None:
    """Launch every group; the instances left running go to ``seeding.running_instances`` with their zones."""
    groups = [group for group in groups if group.count]
    architectures = _architectures(ec2, {group.instance_type for group in groups})
    images = {architecture: _image(ec2, architecture) for architecture in set(architectures.values())}
    running: list[tuple[str, str]] = []
    stopped: list[str] = []
    tagged: list[str] = []
    for group in groups:
        launched = ec2.run_instances(
            ImageId=images[architectures[group.instance_type]],
            InstanceType=group.instance_type,
            MinCount=group.count,
            MaxCount=group.count,
        )["Instances"]
        ids = [instance["InstanceId"] for instance in launched]
        zones = {instance["InstanceId"]: instance["Placement"]["AvailabilityZone"] for instance in launched}
        late, ending = ids[: group.starts_late], ids[group.starts_late : group.starts_late + group.ends_early]
        # An ended instance's root volume goes with it (DeleteOnTermination), before any collection sees it.
        seeding.resources[Service.EBS].extend(_root_volumes(i for i in launched if i["InstanceId"] not in ending))
        stopped.extend(ids[group.count - group.stopped :])
        tagged.extend(seeding.rng.sample(ids, group.tagged))
        running.extend(
            (instance_id, zones[instance_id])
            for instance_id in ids[: group.count - group.stopped]
            if instance_id not in ending
        )
        seeding.started_late.extend(late)
        seeding.ended_early.extend(ending)
    if stopped:
        ec2.stop_instances(InstanceIds=stopped)
    if seeding.ended_early:
        ec2.terminate_instances(InstanceIds=seeding.ended_early)
    if tagged:
        ec2.create_tags(Resources=tagged, Tags=[{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}])
    seeding.resources[Service.EC2].extend(instance_id for instance_id, _ in running)
    seeding.resources[Service.EC2].extend(seeding.ended_early)
    seeding.stopped_instances.extend(stopped)
    seeding.running_instances.extend(running)


def launch_tagged(seeding: RegionSeeding, instance_type: str, count: int, tags: Mapping[str, str]) -> list[str]:
    """Launch ``count`` running instances tagged ``tags`` for another service's recipe (EKS nodes, say).

    They are EC2's resources (their root volumes EBS's); the caller publishes their metrics
    (``put_instance_metrics``), since EC2's own step has already run.
    """
    ec2 = seeding.client("ec2")
    architecture = _architectures(ec2, [instance_type])[instance_type]
    launched = ec2.run_instances(
        ImageId=_image(ec2, architecture),
        InstanceType=instance_type,
        MinCount=count,
        MaxCount=count,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}
        ],
    )["Instances"]
    ids = [instance["InstanceId"] for instance in launched]
    seeding.resources[Service.EC2].extend(ids)
    seeding.resources[Service.EBS].extend(_root_volumes(launched))
    return ids


def _architectures(ec2: Any, instance_types: Iterable[str]) -> dict[str, str]:
    """The processor architecture (``arm64`` or ``x86_64``) each instance type runs."""
    ordered = sorted(instance_types)
    if not ordered:
        return {}
    found = {}
    for info in ec2.describe_instance_types(InstanceTypes=ordered)["InstanceTypes"]:
        supported = info.get("ProcessorInfo", {}).get("SupportedArchitectures", ["x86_64"])
        found[info["InstanceType"]] = "arm64" if "arm64" in supported else "x86_64"
    return found


def _image(ec2: Any, architecture: str) -> str:
    """An Amazon Linux 2023 image for ``architecture``, as a customer would launch."""
    filters = [{"Name": "architecture", "Values": [architecture]}, {"Name": "state", "Values": ["available"]}]
    # Naming the image family keeps the answer small; the emulator lists a thousand images otherwise.
    images = ec2.describe_images(Owners=["amazon"], Filters=[*filters, _AL2023_NAME_FILTER])["Images"]
    images = images or ec2.describe_images(Owners=["amazon"], Filters=filters)["Images"]
    if not images:
        raise RuntimeError(f"the embedded AWS offers no {architecture} image")
    return str(min(image["ImageId"] for image in images))


def _root_volumes(instances: Iterable[Mapping[str, Any]]) -> list[str]:
    return [
        mapping["Ebs"]["VolumeId"]
        for instance in instances
        for mapping in instance.get("BlockDeviceMappings", [])
        if "Ebs" in mapping
    ]


# Readings in the first hour of an instance started 30 minutes into it, and in the last of one ended 20 minutes in.
LATE_START_SAMPLES = 6
EARLY_END_SAMPLES = 4


def _samples(seeding: RegionSeeding, instance_id: str) -> dict[datetime, int]:
    if instance_id in seeding.started_late:
        return {seeding.hours[0]: LATE_START_SAMPLES}
    if instance_id in seeding.ended_early:
        return {seeding.hours[-1]: EARLY_END_SAMPLES}
    return {}


def put_instance_metrics(
    metrics: MetricWriter,
    instance_id: str,
    profile: Profile,
    hours: Sequence[datetime],
    rng: random.Random,
    samples: Mapping[datetime, int] | None = None,
) -> None:
    """An hour of readings for each of ``hours``: ``SAMPLES_PER_HOUR``, or as many as ``samples`` says for an hour
    the instance ran part of."""
    dimensions = [{"Name": "InstanceId", "Value": instance_id}]
    bytes_at_peak = rng.uniform(50e6, 5e9)
    for hour in hours:
        load = profile.load(hour)
        count = (samples or {}).get(hour, SAMPLES_PER_HOUR)
        cpu = clamp(profile.base + profile.swing * load + rng.gauss(0, 2), 5, 80)
        metrics.add("AWS/EC2", mean_datum("CPUUtilization", dimensions, hour, cpu, count, "Percent", rng))
        sent = bytes_at_peak * (0.1 + 0.9 * load) * rng.uniform(0.8, 1.2)
        sent = sent if count == SAMPLES_PER_HOUR else sent * count / SAMPLES_PER_HOUR
        metrics.add("AWS/EC2", total_datum("NetworkOut", dimensions, hour, sent, count, "Bytes"))


DEVTOOLS = Ec2Devtools()
