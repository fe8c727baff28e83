"""EKS on the workbench: a cluster with a managed node group of Graviton nodes and a Fargate profile.

moto's node groups launch no instances, so the recipe launches the group's nodes itself, tagged as EKS tags
managed nodes (``eks:cluster-name``, ``eks:nodegroup-name``): they are EC2 resources (their root volumes EBS's),
which the EC2 slice meters and labels with the cluster, and the recipe publishes their EC2 metrics. The control
plane publishes nothing. The demo's Fargate pods are none: the region's ECS workloads without Container
Insights take the account's whole AWS/Usage count (see ``services/eks.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from carbonmeter.models import Service
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.ec2 import EC2_API, ECS_API, launch_tagged, put_instance_metrics
from devtools.services.metrics import Profile

EKS_API = ClientFaults(
    "eks",
    throttling=("ThrottlingException", 429),
    region_not_enabled=("UnrecognizedClientException", 403),
    soak_order=16,
)
_ROLE_ARN = "arn:aws:iam::{account}:role/carbonmeter-demo-eks"


@dataclass(frozen=True)
class EksClusterSpec:
    name: str
    node_type: str
    nodes: int
    fargate_profile: bool = True


class EksDevtools(ServiceDevtools[EksClusterSpec]):
    service = Service.EKS
    # The slice reads ECS's Fargate workloads when a cluster has a Fargate profile; the recipe launches the
    # nodes through EC2's API.
    clients = (EKS_API, ECS_API, EC2_API)
    demo_fleet = (EksClusterSpec("k8s", "m6g.large", nodes=2),)
    fleet_share = 0.05

    def mixed(self, count: int) -> tuple[EksClusterSpec, ...]:
        # Clusters without nodes of their own: a mixed fleet's instances are EC2's share, so the fleet keeps
        # exactly the size asked.
        return tuple(replace(spec, nodes=0) for spec in super().mixed(count))

    def create(self, seeding: RegionSeeding, specs: Sequence[EksClusterSpec]) -> None:
        eks = seeding.client("eks")
        subnets = sorted(subnet["SubnetId"] for subnet in seeding.client("ec2").describe_subnets()["Subnets"])[:2]
        role = _ROLE_ARN.format(account=seeding.account.account_id)
        for index, spec in enumerate(specs):
            name = f"demo-{spec.name}-{index:05d}"
            _create_cluster(eks, name, spec, subnets, role)
            seeding.resources[Service.EKS].append(name)
            if not spec.nodes:
                continue
            nodes = launch_tagged(
                seeding,
                spec.node_type,
                spec.nodes,
                {"eks:cluster-name": name, "eks:nodegroup-name": "default", f"kubernetes.io/cluster/{name}": "owned"},
            )
            for instance_id in nodes:
                profile = Profile.draw(seeding.rng, seeding.peak_hour)
                put_instance_metrics(seeding.metrics, instance_id, profile, seeding.hours, seeding.rng)


def _create_cluster(eks: Any, name: str, spec: EksClusterSpec, subnets: list[str], role: str) -> None:
    eks.create_cluster(name=name, roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    if spec.nodes:
        _create_nodegroup(eks, name, spec, subnets, role)
    if spec.fargate_profile:
        eks.create_fargate_profile(
            fargateProfileName="batch",
            clusterName=name,
            podExecutionRoleArn=role,
            subnets=subnets,
            selectors=[{"namespace": "batch"}],
        )


def _create_nodegroup(eks: Any, name: str, spec: EksClusterSpec, subnets: list[str], role: str) -> None:
    eks.create_nodegroup(
        clusterName=name,
        nodegroupName="default",
        subnets=subnets,
        nodeRole=role,
        instanceTypes=[spec.node_type],
        amiType="AL2023_ARM_64_STANDARD",
        scalingConfig={"minSize": spec.nodes, "maxSize": spec.nodes, "desiredSize": spec.nodes},
    )


DEVTOOLS = EksDevtools()
