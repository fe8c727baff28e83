"""ECS on the workbench: Fargate services and stand-alone tasks in two clusters, one with Container Insights.

Each workload is a task definition (size, architecture, ephemeral storage), then a service of it or tasks run
outside any service (RunTask). Its tasks follow the region's business day, hour by hour; seeding publishes what
AWS would: Container Insights' ``RunningTaskCount`` for workloads of the cluster that has it, ``AWS/ECS``
``CPUUtilization`` for services (1-minute samples), and the account's running Fargate vCPUs in ``AWS/Usage``
(the sum over every workload, whichever cluster). moto reports a service's ``runningCount`` from an environment
variable; the embedded AWS reports its desired count instead (``devtools/aws/ecs_running.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from carbonmeter.services.ecs import INSIGHTS_NAMESPACE, NAMESPACE, USAGE_NAMESPACE, USAGE_SHAPES
from devtools.services.base import RegionSeeding, ServiceDevtools
from devtools.services.ec2 import EC2_API, ECS_API
from devtools.services.metrics import MetricWriter, Profile, clamp, datum, mean_datum

SAMPLES_PER_HOUR = 60  # ECS and Container Insights publish every minute
INSIGHTS_CLUSTER = "demo-web"
PLAIN_CLUSTER = "demo-batch"


@dataclass(frozen=True)
class FargateWorkload:
    """A Fargate service (or stand-alone tasks, ``service=False``) of ``tasks`` tasks at its busiest."""

    name: str
    cpu: int  # CPU units, 1024 a vCPU
    memory_mib: int
    architecture: str  # X86_64 or ARM64
    tasks: int
    insights: bool
    service: bool = True
    ephemeral_gib: int = 20

    @property
    def cluster(self) -> str:
        return INSIGHTS_CLUSTER if self.insights else PLAIN_CLUSTER


class EcsDevtools(ServiceDevtools[FargateWorkload]):
    service = Service.ECS
    # The recipe reads the default VPC through the EC2 API (the slice does not).
    clients = (ECS_API, EC2_API)
    demo_fleet = (
        FargateWorkload("api", 512, 1024, "ARM64", tasks=3, insights=True),
        FargateWorkload("worker", 1024, 2048, "X86_64", tasks=2, insights=True),
        FargateWorkload("reports", 2048, 4096, "X86_64", tasks=1, insights=False, ephemeral_gib=50),
        FargateWorkload("nightly-etl", 1024, 2048, "X86_64", tasks=2, insights=False, service=False),
    )
    fleet_share = 0.05

    def create(self, seeding: RegionSeeding, specs: Sequence[FargateWorkload]) -> None:
        ecs = seeding.client("ecs")
        network = _network(seeding.client("ec2"))
        for cluster, insights in ((INSIGHTS_CLUSTER, True), (PLAIN_CLUSTER, False)):
            if any(spec.cluster == cluster for spec in specs):
                value = "enabled" if insights else "disabled"
                ecs.create_cluster(clusterName=cluster, settings=[{"name": "containerInsights", "value": value}])
        for index, spec in enumerate(specs):
            name = f"{spec.name}-{index:05d}"
            _register(ecs, name, spec)
            if spec.service:
                ecs.create_service(
                    cluster=spec.cluster,
                    serviceName=name,
                    taskDefinition=name,
                    desiredCount=spec.tasks,
                    launchType="FARGATE",
                    networkConfiguration=network,
                )
            else:
                ecs.run_task(
                    cluster=spec.cluster,
                    taskDefinition=name,
                    count=spec.tasks,
                    launchType="FARGATE",
                    networkConfiguration=network,
                )
            seeding.resources[Service.ECS].append(f"{spec.cluster}/{name}")

    def publish(self, seeding: RegionSeeding, specs: Sequence[FargateWorkload]) -> None:
        vcpus_by_hour = dict.fromkeys(seeding.hours, 0.0)
        for index, spec in enumerate(specs):
            profile = Profile.draw(seeding.rng, seeding.peak_hour)
            running = _put_workload_metrics(seeding.metrics, f"{spec.name}-{index:05d}", spec, profile, seeding)
            for hour, tasks in running.items():
                vcpus_by_hour[hour] += tasks * spec.cpu / 1024
        put_fargate_usage(seeding.metrics, vcpus_by_hour)


def _network(ec2: Any) -> dict[str, Any]:
    """The default VPC's first subnet and security group, where a customer's first Fargate tasks often run."""
    subnet = min(subnet["SubnetId"] for subnet in ec2.describe_subnets()["Subnets"])
    group = min(group["GroupId"] for group in ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"])
    return {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "ENABLED"}}


def _register(ecs: Any, family: str, spec: FargateWorkload) -> None:
    ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=str(spec.cpu),
        memory=str(spec.memory_mib),
        runtimePlatform={"cpuArchitecture": spec.architecture, "operatingSystemFamily": "LINUX"},
        ephemeralStorage={"sizeInGiB": spec.ephemeral_gib},
        containerDefinitions=[
            {
                "name": "app",
                "image": "public.ecr.aws/docker/library/nginx:stable",
                "essential": True,
                # One container holding the whole task's memory (its hard limit).
                "memory": spec.memory_mib,
            }
        ],
    )


def _put_workload_metrics(
    metrics: MetricWriter, name: str, spec: FargateWorkload, profile: Profile, seeding: RegionSeeding
) -> dict[datetime, float]:
    """Publish one workload's hours; the mean tasks it ran each hour."""
    key = "ServiceName" if spec.service else "TaskDefinitionFamily"
    dimensions = [{"Name": "ClusterName", "Value": spec.cluster}, {"Name": key, "Value": name}]
    running: dict[datetime, float] = {}
    for hour in seeding.hours:
        load = profile.load(hour)
        # Scaled between half its tasks and all of them through the day (at least one).
        tasks = max(1.0, round(spec.tasks * (0.5 + 0.5 * load) + seeding.rng.uniform(-0.3, 0.3), 2))
        running[hour] = tasks
        if spec.insights:
            metrics.add(INSIGHTS_NAMESPACE, _level_datum("RunningTaskCount", dimensions, hour, tasks, "Count"))
        if spec.service:
            cpu = clamp(profile.base + profile.swing * load + seeding.rng.gauss(0, 2), 3, 90)
            metrics.add(
                NAMESPACE, mean_datum("CPUUtilization", dimensions, hour, cpu, SAMPLES_PER_HOUR, "Percent", seeding.rng)
            )
    return running


def put_fargate_usage(metrics: MetricWriter, vcpus_by_hour: dict[datetime, float]) -> None:
    """The account's running Fargate vCPUs each hour, as AWS/Usage's on-demand ResourceCount (the ECS guide's)."""
    on_demand = next(iter(USAGE_SHAPES))
    dimensions = [
        {"Name": "Service", "Value": "Fargate"},
        {"Name": "Type", "Value": "Resource"},
        *({"Name": name, "Value": value} for name, value in on_demand),
    ]
    for hour, vcpus in vcpus_by_hour.items():
        metrics.add(USAGE_NAMESPACE, _level_datum("ResourceCount", dimensions, hour, vcpus, "None"))


def _level_datum(
    name: str, dimensions: list[dict[str, str]], hour: datetime, level: float, unit: str
) -> dict[str, Any]:
    # A count sampled every minute, averaging ``level`` over the hour.
    return datum(
        name,
        dimensions,
        hour,
        unit,
        count=SAMPLES_PER_HOUR,
        total=level * SAMPLES_PER_HOUR,
        low=max(0.0, level - 1),
        high=level + 1,
    )


DEVTOOLS = EcsDevtools()
