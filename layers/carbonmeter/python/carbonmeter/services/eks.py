"""EKS: every cluster in the region, one record each: its control plane, and its pods on Fargate where it has any.

Worker nodes are EC2 instances: the EC2 slice meters them and names their cluster (from the tags EKS puts on
them), so this slice counts no EC2 capacity.

The **control plane** is AWS's and publishes nothing a customer can read about its size. AWS documents that it
runs at least two API server instances and three etcd instances, across three Availability Zones; CarbonMeter
counts each as the EC2 instance of ``eks-control-plane.csv`` (an assumption, flagged ``eks_control_plane_assumed``),
at the default utilisation, bounded by idle and full load.

**Fargate pods** of a cluster with Fargate profiles are sized from the account's Fargate vCPUs in ``AWS/Usage``
that ECS does not explain: less what the region's ECS workloads with Container Insights ran; when the region also
has ECS Fargate workloads without Container Insights, ECS's share-out takes the whole count and the pods get
none. What is left is split evenly over the region's clusters with Fargate profiles (flagged
``eks_fargate_from_usage``), with the memory Fargate gives a pod per vCPU at least (2 GiB) and x86 processors
(EKS runs no ARM pods on Fargate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients, rows
from carbonmeter.emissions.instances import Machine, add_instance
from carbonmeter.emissions.parts import Parts
from carbonmeter.models import Service, ServiceUsage, UsageRecord
from carbonmeter.services import ecs
from carbonmeter.services.base import HourContext, Resource, ServiceSlice

CONTROL_PLANE_FILE = "eks-control-plane.csv"
# Fargate's smallest memory per vCPU for a pod of a whole vCPU (1 vCPU: 2-8 GB).
POD_MEMORY_GIB_PER_VCPU = 2.0

CONTROL_PLANE_ASSUMED = "eks_control_plane_assumed"
FARGATE_FROM_USAGE = "eks_fargate_from_usage"


class EksUsage(ServiceUsage):
    """A cluster-hour: its control plane (instance-equivalents) and the vCPU-hours of its pods on Fargate."""

    service: Literal[Service.EKS] = Service.EKS
    kubernetes_version: str | None = None
    status: str | None = None
    fargate_profiles: int = 0
    fargate_vcpu_hours: float = 0.0


@dataclass(frozen=True)
class ControlPlaneMember:
    """One kind of control-plane server, as ``eks-control-plane.csv`` sizes it."""

    component: str
    instances: int
    instance_type: str


class EksSlice(ServiceSlice[EksUsage]):
    name = Service.EKS
    details_type = EksUsage
    embodied_not_modelled = None
    flag_meanings = MappingProxyType(
        {
            CONTROL_PLANE_ASSUMED: "control plane as five m5.large-equivalents at 50 %",
            FARGATE_FROM_USAGE: "Fargate pods from AWS/Usage vCPUs ECS does not explain",
        }
    )
    # What discovery reads of DescribeCluster's answer: it is parsed to these alone.
    read_members = MappingProxyType({("eks", "Cluster"): frozenset({"name", "version", "status", "createdAt"})})
    read_actions = (
        "ecs:DescribeClusters",
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:DescribeTasks",
        "ecs:ListClusters",
        "ecs:ListServices",
        "ecs:ListTasks",
        "eks:DescribeCluster",
        "eks:ListClusters",
        "eks:ListFargateProfiles",
    )
    providers = frozenset()
    main_part = "compute"
    data_files = ("ec2-instance-types.csv", "processors.csv", ecs.COEFFICIENTS_FILE, CONTROL_PLANE_FILE)

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        client = clients.client("eks", region)
        names = [name for page in client.get_paginator("list_clusters").paginate() for name in page["clusters"]]
        clusters = [(client.describe_cluster(name=name)["cluster"], _fargate_profiles(client, name)) for name in names]
        with_fargate = sum(1 for _, profiles in clusters if profiles)
        # ECS's Fargate workloads are read only when some pods may run on Fargate: they explain part of the count.
        workloads = ecs.region_fargate_workloads(clients, region) if with_fargate else []
        ecs_shares_all = any(not workload.insights for workload in workloads)
        peers = ecs.measured_peers(workloads)
        return [
            Resource(
                service=Service.EKS,
                region=region,
                resource_id=cluster["name"],
                resource_type="eks-cluster",
                attributes={
                    "version": cluster.get("version"),
                    "status": cluster.get("status"),
                    "fargate_profiles": profiles,
                    "fargate_share": 1.0 / with_fargate if profiles else 0.0,
                    "ecs_shares_all": ecs_shares_all,
                    "measured_peers": peers,
                },
                created_at=cluster.get("createdAt"),
            )
            for cluster, profiles in clusters
        ]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        attributes = resource.attributes
        if not attributes["fargate_profiles"] or attributes["ecs_shares_all"]:
            return []
        # The same queries as ECS's, so CloudWatch is asked once for the region.
        return ecs.unexplained_usage_requests(attributes["measured_peers"], hour)

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        attributes = resource.attributes
        details = EksUsage(
            kubernetes_version=attributes["version"],
            status=attributes["status"],
            fargate_profiles=attributes["fargate_profiles"],
            fargate_vcpu_hours=_fargate_vcpu_hours(attributes, metrics, context.hour),
        )
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: EksUsage, c: Coefficients) -> Parts:
        parts = Parts()
        parts.flag(CONTROL_PLANE_ASSUMED)
        for member in control_plane():
            part = Parts()
            add_instance(part, _machine(member, usage.hours), c)
            _add(parts, part)
        if details.fargate_vcpu_hours > 0:
            parts.flag(FARGATE_FROM_USAGE)
            pods = Parts()
            ecs.add_fargate(
                pods,
                c,
                vcpu_hours=details.fargate_vcpu_hours,
                memory_gib_hours=details.fargate_vcpu_hours * POD_MEMORY_GIB_PER_VCPU,
                architecture="x86_64",
                cpu_utilization_pct=None,
            )
            _add(parts, pods)
        return parts


def _fargate_profiles(client: Any, cluster: str) -> int:
    pages = client.get_paginator("list_fargate_profiles").paginate(clusterName=cluster)
    return sum(len(page["fargateProfileNames"]) for page in pages)


def _fargate_vcpu_hours(
    attributes: Mapping[str, Any], metrics: Mapping[MetricRequest, Sequence[float]], hour: datetime
) -> float:
    """This cluster's share of the account's Fargate vCPU-hours that ECS does not explain."""
    if not attributes["fargate_profiles"] or attributes["ecs_shares_all"]:
        return 0.0
    account = ecs.fargate_vcpus(metrics, hour)
    if account is None:
        return 0.0
    unexplained = max(0.0, account - ecs.measured_vcpus(attributes["measured_peers"], metrics, hour))
    return float(unexplained * attributes["fargate_share"])


def _machine(member: ControlPlaneMember, hours: float) -> Machine:
    # The control plane publishes no utilisation: the default, bounded by idle and full load.
    return Machine(
        type_name=member.instance_type,
        hours=hours,
        vcpus=None,
        memory_gib=None,
        cpu_utilization_pct=None,
        multiplier=float(member.instances),
    )


def _add(total: Parts, part: Parts) -> None:
    total.compute = total.compute + part.compute
    total.memory = total.memory + part.memory
    total.storage = total.storage + part.storage
    total.embodied = total.embodied + part.embodied
    for flag in part.flags:
        total.flag(flag)


@cache
def control_plane() -> tuple[ControlPlaneMember, ...]:
    """The control plane's instance-equivalents (``eks-control-plane.csv``), read once per process."""
    return tuple(
        ControlPlaneMember(row["component"], int(row["instances"]), row["instance_type"])
        for row in rows(CONTROL_PLANE_FILE)
    )


SLICE = EksSlice()
