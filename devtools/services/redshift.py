"""Redshift on the workbench: provisioned clusters (RA3 and DC2, one paused) and a Serverless workgroup.

Redshift publishes node metrics every minute, so each hourly datum carries 60 samples: CPUUtilization per node
(ClusterIdentifier + NodeID, named as the slice names them), PercentageDiskSpaceUsed per RA3 cluster (a paused one
still holds its managed storage), and for Serverless the workgroup's ComputeCapacity (RPUs) and its namespace's
DataStorage (MB). moto has no Redshift Serverless: ``devtools/aws/redshift_serverless.py`` answers its calls.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from carbonmeter.services.redshift import NAMESPACE, SERVERLESS_NAMESPACE, node_ids, node_types
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.metrics import MetricWriter, Profile, clamp, mean_datum, total_datum

SAMPLES_PER_HOUR = 60  # Redshift publishes its metrics every minute

REDSHIFT_API = ClientFaults(
    "redshift", throttling=("Throttling", 400), region_not_enabled=("InvalidClientTokenId", 403), soak_order=13
)
REDSHIFT_SERVERLESS_API = ClientFaults(
    "redshift-serverless",
    throttling=("ThrottlingException", 400),
    region_not_enabled=("UnrecognizedClientException", 403),
    soak_order=14,
)


@dataclass(frozen=True)
class WarehouseSpec:
    """A provisioned cluster (``node_type`` x ``nodes``, maybe paused) or, with ``base_rpu``, a workgroup."""

    node_type: str | None = None
    nodes: int = 1
    paused: bool = False
    base_rpu: int | None = None


class RedshiftDevtools(ServiceDevtools[WarehouseSpec]):
    service = Service.REDSHIFT
    clients = (REDSHIFT_API, REDSHIFT_SERVERLESS_API)
    demo_fleet = (
        WarehouseSpec("ra3.4xlarge", nodes=2),
        WarehouseSpec("dc2.large"),
        WarehouseSpec("ra3.xlplus", nodes=2, paused=True),
        WarehouseSpec(base_rpu=8),
    )
    fleet_share = 0.05

    def create(self, seeding: RegionSeeding, specs: Sequence[WarehouseSpec]) -> None:
        # Each warehouse draws its profile, then its metrics: interleaved, as ElastiCache does.
        for index, spec in enumerate(specs):
            if spec.base_rpu is None:
                name = _create_cluster(seeding.client("redshift"), index, spec)
                profile = Profile.draw(seeding.rng, seeding.peak_hour)
                _put_cluster_metrics(seeding.metrics, name, spec, profile, seeding.hours, seeding.rng)
            else:
                name, namespace = _create_workgroup(seeding.client("redshift-serverless"), index, spec.base_rpu)
                profile = Profile.draw(seeding.rng, seeding.peak_hour)
                _put_workgroup_metrics(seeding.metrics, name, namespace, spec.base_rpu, profile, seeding)
            seeding.resources[Service.REDSHIFT].append(name)


def _create_cluster(redshift: Any, index: int, spec: WarehouseSpec) -> str:
    identifier = f"demo-warehouse-{index:05d}"
    shape = (
        {"ClusterType": "single-node"}
        if spec.nodes == 1
        else {"ClusterType": "multi-node", "NumberOfNodes": spec.nodes}
    )
    with contextlib.suppress(redshift.exceptions.ClusterAlreadyExistsFault):
        redshift.create_cluster(
            ClusterIdentifier=identifier,
            NodeType=spec.node_type,
            MasterUsername="demo",
            MasterUserPassword="Demo-password-1",
            **shape,
        )
        if spec.paused:
            redshift.pause_cluster(ClusterIdentifier=identifier)
    return identifier


def _create_workgroup(serverless: Any, index: int, base_rpu: int) -> tuple[str, str]:
    name, namespace = f"demo-workgroup-{index:05d}", f"demo-namespace-{index:05d}"
    with contextlib.suppress(serverless.exceptions.ConflictException):
        serverless.create_namespace(namespaceName=namespace)
    with contextlib.suppress(serverless.exceptions.ConflictException):
        serverless.create_workgroup(workgroupName=name, namespaceName=namespace, baseCapacity=base_rpu)
    return name, namespace


def _put_cluster_metrics(
    metrics: MetricWriter,
    name: str,
    spec: WarehouseSpec,
    profile: Profile,
    hours: Sequence[datetime],
    rng: random.Random,
) -> None:
    cluster = [{"Name": "ClusterIdentifier", "Value": name}]
    if not spec.paused:
        # A warehouse's nodes work in step on each query: one load, a little noise per node.
        for node_id in node_ids(spec.nodes):
            dimensions = [*cluster, {"Name": "NodeID", "Value": node_id}]
            for hour in hours:
                cpu = clamp(profile.base + profile.swing * profile.load(hour) + rng.gauss(0, 2), 1, 95)
                metrics.add(
                    NAMESPACE, mean_datum("CPUUtilization", dimensions, hour, cpu, SAMPLES_PER_HOUR, "Percent", rng)
                )
    node = node_types()[spec.node_type or ""]
    if node.managed_storage:
        # A few percent of the managed quota, growing slowly through the day's loads.
        used = rng.uniform(0.2, 3.0)
        for hour in hours:
            used = min(100.0, used * (1 + 0.001 * profile.load(hour)))
            metrics.add(
                NAMESPACE,
                mean_datum("PercentageDiskSpaceUsed", cluster, hour, used, SAMPLES_PER_HOUR, "Percent", rng),
            )


def _put_workgroup_metrics(
    metrics: MetricWriter, name: str, namespace: str, base_rpu: int, profile: Profile, seeding: RegionSeeding
) -> None:
    rng = seeding.rng
    stored_mb = rng.uniform(50_000, 500_000)
    for hour in seeding.hours:
        # Serverless scales from 0 (idle) up to about twice its base capacity at the day's peak.
        rpu = clamp(base_rpu * 2 * profile.load(hour) * rng.uniform(0.6, 1.0), 0, 4 * base_rpu)
        # RPUs and megabytes are no percentages: totals over the hour's samples, spread around their mean.
        for metric, dimension, value, unit in (
            ("ComputeCapacity", {"Name": "Workgroup", "Value": name}, rpu, "Count"),
            ("DataStorage", {"Name": "Namespace", "Value": namespace}, stored_mb, "Megabytes"),
        ):
            total = value * SAMPLES_PER_HOUR
            metrics.add(SERVERLESS_NAMESPACE, total_datum(metric, [dimension], hour, total, SAMPLES_PER_HOUR, unit))


DEVTOOLS = RedshiftDevtools()
