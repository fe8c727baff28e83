"""EC2: the instances that can have run in the hour, sized from DescribeInstanceTypes, with hourly CPU and network
metrics, charged the share of the hour they ran (``running_share``).

Architecture comes from the instance type (the hardware) when the type runs on one family
only, otherwise from the instance itself; it is reported as ``x86_64`` or ``arm64``.
DescribeInstanceTypes also gives what the methodology needs to pick power coefficients for types
newer than its data: the CPU manufacturer, the GPU model and whether the type is burstable.
An instance that is capacity of a container cluster is labelled with it: an EKS worker node from the tags EKS puts
on it, an ECS container instance from its cluster's container instances. It is metered here only; the ECS and
EKS slices count no EC2 capacity.
The estimate is the shared virtual-machine one (``emissions/instances.py``); Boavizta and the HTTP API cover EC2.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from statistics import fmean
from types import MappingProxyType
from typing import Any, Literal

from botocore.exceptions import ClientError

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.emissions.instances import Machine, add_instance
from carbonmeter.emissions.parts import Parts
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import HourContext, InstanceView, Resource, ServiceSlice, lifetime_share
from carbonmeter.services.instance_types import describe_instance_types

NAMESPACE = "AWS/EC2"
PERIOD = 3600
# CPUUtilization's SampleCount rides in the same billed metric as its Average (up to five statistics of one metric
# in a request are billed once): how many minutes' readings the instance gave in the hour.
_METRICS = (("CPUUtilization", "Average"), ("CPUUtilization", "SampleCount"), ("NetworkOut", "Sum"))
# Every state in which an instance may have run during a past hour; AWS lists terminated ones for about an hour.
STATES = ("running", "stopping", "stopped", "shutting-down", "terminated")
_ENDED_STATES = frozenset({"stopping", "stopped", "shutting-down", "terminated"})
# CPUUtilization readings an hour: one per 5 minutes under basic monitoring, one a minute under detailed.
SAMPLES_PER_HOUR = {"basic": 12, "detailed": 60}
# StateTransitionReason of a stop or termination: "User initiated (2026-11-23 10:20:00 GMT)" (moto says UTC).
_TRANSITION_TIME = re.compile(r"\((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:GMT|UTC)\)")

logger = logging.getLogger(__name__)


class Ec2Usage(ServiceUsage):
    """An instance-hour: its size and hardware (DescribeInstanceTypes) and its average CPU utilisation."""

    service: Literal[Service.EC2] = Service.EC2
    vcpus: float | None = None
    memory_gib: float | None = None
    gpus: float | None = None  # a fractional GPU (g6f: 1/8 of an L4) counts its share
    cpu_utilization_pct: float | None = None
    architecture: str | None = None
    # ProcessorInfo.Manufacturer ("Intel", "AMD", "AWS", "Apple"), the GPU as "<Manufacturer> <Name>" ("NVIDIA T4"),
    # BurstablePerformanceSupported.
    cpu_manufacturer: str | None = None
    gpu_model: str | None = None
    burstable: bool = False
    # The container cluster the instance is capacity of ("ecs" or "eks", and its name): a label only, the
    # instance is metered here and nowhere else.
    cluster_kind: Literal["ecs", "eks"] | None = None
    cluster: str | None = None


# The members of DescribeInstances' ``Instance`` this slice reads (``_resource``, ``ended_at``): its answers are
# parsed to these alone (``ServiceSlice.read_members``).
INSTANCE_MEMBERS = frozenset(
    {
        "InstanceId",
        "InstanceType",
        "Architecture",
        "PlatformDetails",
        "Platform",
        "Tags",
        "State",
        "Monitoring",
        "LaunchTime",
        "StateTransitionReason",
    }
)


class Ec2Slice(ServiceSlice[Ec2Usage]):
    name = Service.EC2
    details_type = Ec2Usage
    read_actions = (
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceTypes",
        "ecs:DescribeContainerInstances",
        "ecs:ListClusters",
        "ecs:ListContainerInstances",
    )
    providers = frozenset({"boavizta", "http", "oxygenit"})
    main_part = "compute"
    data_files = ("ec2-instance-types.csv", "processors.csv", "gpu-models.csv", "burstable-embodied-hosts.csv")
    embodied_not_modelled = None
    remembers_gone = True
    read_members = MappingProxyType({("ec2", "Instance"): INSTANCE_MEMBERS})

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        ec2 = clients.client("ec2", region)
        instances = _instances(ec2)
        specs = describe_instance_types(ec2, {instance["InstanceType"] for instance in instances})
        ecs_clusters = _ecs_labels(clients.client("ecs", region), region) if instances else {}
        return [
            _resource(region, instance, specs.get(instance["InstanceType"], {}), ecs_clusters) for instance in instances
        ]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        if resource.ended_at is not None and resource.ended_at <= hour:
            return []  # stopped or terminated before the hour: its last start came before its end, so it never ran
        dimensions = (("InstanceId", resource.resource_id),)
        return [
            MetricRequest(NAMESPACE, metric, dimensions, stat, PERIOD, hour, hour + HOUR) for metric, stat in _METRICS
        ]

    def running_share(
        self, resource: Resource, metrics: Mapping[MetricRequest, Sequence[float]], hour: datetime
    ) -> float:
        """The share of the hour the instance ran (docs/methodology.md, "Running time in the hour").

        Its lifetime in the hour, from LaunchTime and the time of its stop or termination, when that says it ran the
        whole hour; otherwise CPUUtilization's sample count over the readings a full hour gives (12, or 60 under
        detailed monitoring), which also sees a run before the latest LaunchTime (it resets at each start); with no
        reading at all, the lifetime alone, and nothing for a stopped instance whose stop time cannot be read.
        """
        values = self._values(resource, metrics, hour)
        samples = sum(values[("CPUUtilization", "SampleCount")])
        known = resource.ended_at is not None or resource.attributes.get("state", "running") not in _ENDED_STATES
        window = lifetime_share(resource, hour) if known else 0.0
        if samples <= 0 or window >= 1.0:
            return window
        expected = SAMPLES_PER_HOUR[resource.attributes.get("monitoring") or "basic"]
        return min(1.0, samples / expected)

    def _values(
        self, resource: Resource, metrics: Mapping[MetricRequest, Sequence[float]], hour: datetime
    ) -> dict[tuple[str, str], Sequence[float]]:
        values: dict[tuple[str, str], Sequence[float]] = dict.fromkeys(_METRICS, ())
        for request in self.metric_requests(resource, hour):
            values[(request.metric_name, request.stat)] = metrics.get(request, ())
        return values

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        values = self._values(resource, metrics, context.hour)
        cpu = values[("CPUUtilization", "Average")]
        attributes = resource.attributes
        details = Ec2Usage(
            vcpus=attributes.get("vcpus"),
            memory_gib=attributes.get("memory_gib"),
            gpus=attributes.get("gpus"),
            gpu_model=attributes.get("gpu_model"),
            cpu_manufacturer=attributes.get("cpu_manufacturer"),
            burstable=bool(attributes.get("burstable")),
            architecture=attributes["architecture"],
            cpu_utilization_pct=fmean(cpu) if cpu else None,
            cluster_kind=attributes.get("cluster_kind"),
            cluster=attributes.get("cluster"),
        )
        return [self.record(resource, context, details, network_out_bytes=sum(values[("NetworkOut", "Sum")]))]

    def estimate(self, usage: UsageRecord, details: Ec2Usage, c: Coefficients) -> Parts:
        parts = Parts()
        add_instance(parts, _machine(usage, details), c)
        return parts

    def instance(self, usage: UsageRecord, details: Ec2Usage) -> InstanceView:
        return InstanceView(usage.resource_type, 1, details.cpu_utilization_pct)


def _machine(usage: UsageRecord, details: Ec2Usage) -> Machine:
    return Machine(
        type_name=usage.resource_type,
        hours=usage.hours,
        vcpus=details.vcpus,
        memory_gib=details.memory_gib,
        cpu_utilization_pct=details.cpu_utilization_pct,
        cpu_manufacturer=details.cpu_manufacturer,
        burstable=details.burstable,
        gpus=details.gpus,
        gpu_model=details.gpu_model,
    )


def _instances(ec2: Any) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": list(STATES)}]
    )
    return [instance for page in pages for reservation in page["Reservations"] for instance in reservation["Instances"]]


# Tags EKS puts on its worker nodes (managed node groups, Auto Mode and Karpenter); self-managed nodes carry
# ``kubernetes.io/cluster/<name>``.
EKS_CLUSTER_TAGS = ("eks:cluster-name", "aws:eks:cluster-name", "eks:eks-cluster-name")
_KUBERNETES_CLUSTER_TAG = "kubernetes.io/cluster/"
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})
# DescribeContainerInstances takes at most this many a call.
CONTAINER_INSTANCES_PER_CALL = 100


def _ecs_labels(ecs: Any, region: str) -> dict[str, str]:
    """``container_instance_clusters``, or none for a customer role that predates the ECS read actions.

    The cluster is a label: a role without ``ecs:ListClusters`` still has its instances metered, unlabelled.
    """
    try:
        return container_instance_clusters(ecs)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _ACCESS_DENIED:
            raise
        logger.warning("EC2 instances in %s not labelled with their ECS cluster: %s", region, error)
        return {}


def container_instance_clusters(ecs: Any) -> dict[str, str]:
    """The ECS cluster of each EC2 instance registered as a container instance, by instance id.

    ECS tags no instance with its cluster, so the container instances are listed, cluster by cluster.
    """
    clusters: dict[str, str] = {}
    for cluster_arn in (arn for page in ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]):
        pages = ecs.get_paginator("list_container_instances").paginate(cluster=cluster_arn)
        arns = [arn for page in pages for arn in page["containerInstanceArns"]]
        for index in range(0, len(arns), CONTAINER_INSTANCES_PER_CALL):
            batch = arns[index : index + CONTAINER_INSTANCES_PER_CALL]
            described = ecs.describe_container_instances(cluster=cluster_arn, containerInstances=batch)
            for container in described["containerInstances"]:
                clusters[container["ec2InstanceId"]] = cluster_arn.rsplit("/", 1)[-1]
    return clusters


def eks_cluster(tags: Sequence[Mapping[str, str]]) -> str | None:
    """The EKS cluster an instance is a worker node of, from the tags DescribeInstances returns."""
    by_key = {tag["Key"]: tag.get("Value", "") for tag in tags}
    for key in EKS_CLUSTER_TAGS:
        if by_key.get(key):
            return by_key[key]
    owned = [key.removeprefix(_KUBERNETES_CLUSTER_TAG) for key in by_key if key.startswith(_KUBERNETES_CLUSTER_TAG)]
    return owned[0] if len(owned) == 1 else None


def _cluster_label(instance: Mapping[str, Any], ecs_clusters: Mapping[str, str]) -> dict[str, str]:
    eks = eks_cluster(instance.get("Tags", []))
    if eks:
        return {"cluster_kind": "eks", "cluster": eks}
    ecs = ecs_clusters.get(instance["InstanceId"])
    return {"cluster_kind": "ecs", "cluster": ecs} if ecs else {}


def _resource(
    region: str, instance: Mapping[str, Any], spec: Mapping[str, Any], ecs_clusters: Mapping[str, str]
) -> Resource:
    return Resource(
        service=Service.EC2,
        region=region,
        resource_id=instance["InstanceId"],
        resource_type=instance["InstanceType"],
        attributes={
            "vcpus": spec.get("vcpus"),
            "memory_gib": spec.get("memory_gib"),
            "gpus": spec.get("gpus"),
            "gpu_model": spec.get("gpu_model"),
            "cpu_manufacturer": spec.get("cpu_manufacturer"),
            "clock_ghz": spec.get("clock_ghz"),
            "burstable": spec.get("burstable", False),
            "architecture": _architecture(spec.get("supported_architectures", ()), instance.get("Architecture")),
            "platform": instance.get("PlatformDetails") or instance.get("Platform") or "Linux/UNIX",
            **_cluster_label(instance, ecs_clusters),
            "state": instance.get("State", {}).get("Name", "running"),
            "monitoring": "detailed" if instance.get("Monitoring", {}).get("State") == "enabled" else "basic",
        },
        created_at=instance.get("LaunchTime"),
        ended_at=ended_at(instance),
    )


def ended_at(instance: Mapping[str, Any]) -> datetime | None:
    """When a stopped or terminated instance stopped running: the time its StateTransitionReason gives, if any."""
    if instance.get("State", {}).get("Name") not in _ENDED_STATES:
        return None
    found = _TRANSITION_TIME.search(instance.get("StateTransitionReason") or "")
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) if found else None


def _architecture(supported: Sequence[str], reported: str | None) -> str:
    families = {_family(architecture) for architecture in supported}
    if len(families) == 1:
        return families.pop()
    return _family(reported or "x86_64")


def _family(architecture: str) -> str:
    return "arm64" if architecture.startswith("arm64") else "x86_64"


SLICE = Ec2Slice()
# The name the workbench imports (``local/comparison``).
COLLECTOR = SLICE
