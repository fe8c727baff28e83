"""Redshift: provisioned clusters (their nodes' CPU and storage) and Serverless workgroups (their RPUs).

A provisioned cluster of N nodes (DescribeClusters) is N machines of its node type, plus a leader node when
N > 1 (a single-node cluster shares one node between both roles). The node type's size and storage come from
``redshift-node-types.csv``; for power and host a node type is its own EC2 type, as ``cache.X`` is ``X`` for
ElastiCache: the EC2 table (CCF's) lists dc2, ds2 and ra3, and the others take EC2's fallbacks.
CPUUtilization is read per node (``NodeID`` ``Shared``, or ``Leader`` and ``Compute-0`` ... ``Compute-(N-1)``).
A paused cluster has no compute; its storage still counts. Local storage (dc1, dc2 SSD; ds2 HDD) counts as
provisioned, whatever its fill; managed storage (RA3) counts as stored, ``PercentageDiskSpaceUsed`` of the
cluster's capacity.

A Serverless workgroup (ListWorkgroups) is its average ``ComputeCapacity`` in RPUs over the hour, each RPU a
``serverless.rpu`` machine of the table (16 GB, 2 vCPUs: ``docs/methodology.md``), plus its namespace's
``DataStorage`` as managed storage.

The estimate is the shared virtual-machine one (``emissions/instances.py``) and storage one (``parts.storage``),
builtin only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from statistics import fmean
from types import MappingProxyType
from typing import Any, Literal

import boto3

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients, rows
from carbonmeter.emissions.instances import Machine, add_instance
from carbonmeter.emissions.parts import CAPACITY_UNKNOWN, Parts, storage
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import HourContext, Resource, ServiceSlice

NAMESPACE = "AWS/Redshift"
SERVERLESS_NAMESPACE = "AWS/Redshift-Serverless"
PERIOD = 3600
NODE_TYPES_FILE = "redshift-node-types.csv"
# The resource type of a Serverless workgroup, and the row of the table one RPU is sized by.
SERVERLESS = "serverless"
RPU_ROW = "serverless.rpu"
PAUSED = "paused"
MB_PER_GB = 1000.0

# Flags (docs/methodology.md, "Redshift"): each names an assumption on every record it shapes.
LEADER_NODE = "redshift_leader_node_as_compute_node"
PAUSED_LOCAL_STORAGE = "redshift_paused_local_storage_as_provisioned"
MANAGED_STORAGE_UNMEASURED = "redshift_managed_storage_unmeasured"
SERVERLESS_RPU = "redshift_serverless_rpu_mapping"


@dataclass(frozen=True)
class NodeType:
    """One row of ``redshift-node-types.csv``: a node's size, the EC2 type it runs as, and its storage."""

    vcpus: float
    memory_gib: float
    # The EC2 type whose row gives power and host; None: the node type itself (one RPU: ra3.16xlarge).
    ec2_type: str | None
    managed_storage: bool
    media: str
    storage_gb_per_node: float
    replication_factor: float


class RedshiftUsage(ServiceUsage):
    """A cluster-hour (nodes, their mean CPU, storage) or a Serverless workgroup-hour (mean RPUs, storage)."""

    service: Literal[Service.REDSHIFT] = Service.REDSHIFT
    # Provisioned: the cluster's NumberOfNodes (compute nodes); Serverless: 0.
    node_count: int = 1
    cpu_utilization_pct: float | None = None
    paused: bool = False
    # Serverless: the hour's average ComputeCapacity (RPUs); None when no datapoint was published.
    capacity_rpu: float | None = None
    # Managed storage: the GB stored (None: not measured this hour); local storage: the GB provisioned.
    storage_gb: float | None = None


class RedshiftSlice(ServiceSlice[RedshiftUsage]):
    name = Service.REDSHIFT
    details_type = RedshiftUsage
    read_actions = ("redshift-serverless:ListWorkgroups", "redshift:DescribeClusters")
    # Boavizta and the HTTP API could take the nodes as EC2 instances; until their contracts say so, builtin only.
    providers = frozenset()
    main_part = "compute"
    data_files = ("ec2-instance-types.csv", NODE_TYPES_FILE)
    embodied_not_modelled = None
    flag_meanings = MappingProxyType(
        {
            LEADER_NODE: "leader node counted as one more node of its type",
            PAUSED_LOCAL_STORAGE: "paused cluster's local disks still counted",
            MANAGED_STORAGE_UNMEASURED: "no storage datapoint this hour: no storage part",
            SERVERLESS_RPU: "Serverless sized from its RPUs (16 GB, 2 vCPUs each)",
        }
    )

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        pages = clients.client("redshift", region).get_paginator("describe_clusters").paginate()
        resources = [_cluster(region, cluster) for page in pages for cluster in page["Clusters"]]
        if serverless_offered(region):
            pages = clients.client("redshift-serverless", region).get_paginator("list_workgroups").paginate()
            resources += [_workgroup(region, workgroup) for page in pages for workgroup in page["workgroups"]]
        return resources

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        if resource.resource_type == SERVERLESS:
            return _workgroup_requests(resource, hour)
        return _cluster_requests(resource, hour)

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        values = {
            (request.metric_name, request.dimensions): fmean(points)
            for request in self.metric_requests(resource, context.hour)
            if (points := metrics.get(request, ()))
        }
        if resource.resource_type == SERVERLESS:
            details = _workgroup_usage(resource, values)
        else:
            details = _cluster_usage(resource, values)
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: RedshiftUsage, c: Coefficients) -> Parts:
        parts = Parts()
        serverless = usage.resource_type == SERVERLESS
        node = node_types().get(RPU_ROW if serverless else usage.resource_type)
        if node is None:
            parts.flag(CAPACITY_UNKNOWN)
            return parts
        machine = (
            _serverless_machine(usage, details, node, parts) if serverless else _nodes(usage, details, node, parts)
        )
        if machine is not None:
            add_instance(parts, machine, c)
        _add_storage(parts, usage, details, node, c)
        return parts


def _cluster_requests(resource: Resource, hour: datetime) -> list[MetricRequest]:
    cluster = (("ClusterIdentifier", resource.resource_id),)
    requests = []
    if resource.attributes["status"] != PAUSED:
        # CPUUtilization is published per node; a paused cluster has none to read.
        requests = [
            MetricRequest(
                NAMESPACE, "CPUUtilization", (*cluster, ("NodeID", node)), "Average", PERIOD, hour, hour + HOUR
            )
            for node in resource.attributes["node_ids"]
        ]
    if resource.attributes["managed_storage"]:
        requests.append(
            MetricRequest(NAMESPACE, "PercentageDiskSpaceUsed", cluster, "Average", PERIOD, hour, hour + HOUR)
        )
    return requests


def _workgroup_requests(resource: Resource, hour: datetime) -> list[MetricRequest]:
    requests = [
        MetricRequest(
            SERVERLESS_NAMESPACE,
            "ComputeCapacity",
            (("Workgroup", resource.resource_id),),
            "Average",
            PERIOD,
            hour,
            hour + HOUR,
        )
    ]
    if resource.attributes["namespace"]:
        requests.append(
            MetricRequest(
                SERVERLESS_NAMESPACE,
                "DataStorage",
                (("Namespace", resource.attributes["namespace"]),),
                "Average",
                PERIOD,
                hour,
                hour + HOUR,
            )
        )
    return requests


MetricValues = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]


def _cluster_usage(resource: Resource, values: MetricValues) -> RedshiftUsage:
    attributes = resource.attributes
    per_node = [value for (name, _), value in values.items() if name == "CPUUtilization"]
    storage_gb: float | None = attributes["local_storage_gb"]
    if attributes["managed_storage"]:
        used = values.get(("PercentageDiskSpaceUsed", (("ClusterIdentifier", resource.resource_id),)))
        storage_gb = None if used is None else used / 100.0 * attributes["managed_capacity_gb"]
    return RedshiftUsage(
        node_count=attributes["node_count"],
        # The cluster's utilisation is its nodes' mean; a node without a datapoint is left out, not zero.
        cpu_utilization_pct=fmean(per_node) if per_node else None,
        paused=attributes["status"] == PAUSED,
        storage_gb=storage_gb,
    )


def _workgroup_usage(resource: Resource, values: MetricValues) -> RedshiftUsage:
    namespace = resource.attributes["namespace"]
    stored_mb = values.get(("DataStorage", (("Namespace", namespace),))) if namespace else None
    return RedshiftUsage(
        node_count=0,
        capacity_rpu=values.get(("ComputeCapacity", (("Workgroup", resource.resource_id),))),
        storage_gb=None if stored_mb is None else stored_mb / MB_PER_GB,
    )


def _nodes(usage: UsageRecord, details: RedshiftUsage, node: NodeType, parts: Parts) -> Machine | None:
    """The cluster's nodes as one machine counted ``machines`` times; None while it is paused."""
    if details.paused:
        return None
    machines = details.node_count
    if details.node_count > 1:
        # AWS does not publish the leader node's hardware; it is counted as one more node of the cluster's type.
        parts.flag(LEADER_NODE)
        machines += 1
    return Machine(
        type_name=node.ec2_type or usage.resource_type,
        hours=usage.hours,
        # Redshift's published size first; add_instance takes the host, power and memory baseline from the type.
        vcpus=node.vcpus,
        memory_gib=node.memory_gib,
        cpu_utilization_pct=details.cpu_utilization_pct,
        multiplier=float(machines),
    )


def _serverless_machine(usage: UsageRecord, details: RedshiftUsage, node: NodeType, parts: Parts) -> Machine | None:
    """The workgroup's RPUs as that many ``serverless.rpu`` machines; None when no capacity was allocated."""
    if not details.capacity_rpu:
        return None
    parts.flag(SERVERLESS_RPU)
    return Machine(
        type_name=node.ec2_type or RPU_ROW,
        hours=usage.hours,
        vcpus=node.vcpus,
        memory_gib=node.memory_gib,
        # Serverless publishes no CPU utilisation: the default applies, flagged by add_instance.
        cpu_utilization_pct=None,
        multiplier=details.capacity_rpu,
    )


def _add_storage(parts: Parts, usage: UsageRecord, details: RedshiftUsage, node: NodeType, c: Coefficients) -> None:
    if details.storage_gb is None:
        if node.managed_storage:
            parts.flag(MANAGED_STORAGE_UNMEASURED)
        return
    if details.paused and not node.managed_storage:
        # A paused cluster's local disks hold no data (it waits in a snapshot of unreported size): upper bound.
        parts.flag(PAUSED_LOCAL_STORAGE)
    parts.storage = storage(c, details.storage_gb, usage.hours, node.media, node.replication_factor)


@cache
def node_types() -> Mapping[str, NodeType]:
    """Redshift's node types (``redshift-node-types.csv``) by name, read once per process."""
    return MappingProxyType({row["node_type"]: _node_type(row) for row in rows(NODE_TYPES_FILE)})


def _node_type(row: Mapping[str, str]) -> NodeType:
    return NodeType(
        vcpus=float(row["vcpus"]),
        memory_gib=float(row["memory_gib"]),
        ec2_type=row["ec2_type"] or None,
        managed_storage=row["storage"] == "managed",
        media=row["media"],
        storage_gb_per_node=float(row["storage_gb_per_node"]),
        replication_factor=float(row["replication_factor"]),
    )


@cache
def serverless_offered(region: str) -> bool:
    """Whether botocore knows a Redshift Serverless endpoint in ``region`` (it is not offered everywhere)."""
    session = boto3.Session()
    return any(
        region in session.get_available_regions("redshift-serverless", partition_name=partition)
        for partition in session.get_available_partitions()
    )


def node_ids(node_count: int) -> tuple[str, ...]:
    """The cluster's nodes as CloudWatch's ``NodeID`` dimension names them."""
    if node_count <= 1:
        return ("Shared",)
    return ("Leader", *(f"Compute-{index}" for index in range(node_count)))


def _cluster(region: str, cluster: Mapping[str, Any]) -> Resource:
    node_type = cluster["NodeType"]
    node_count = int(cluster.get("NumberOfNodes") or 1)
    node = node_types().get(node_type)
    managed = bool(node and node.managed_storage)
    # DescribeClusters gives the capacity in MB; an answer without it (moto's) falls back to the node's quota.
    reported_gb = float(cluster.get("TotalStorageCapacityInMegaBytes") or 0) / MB_PER_GB
    table_gb = node.storage_gb_per_node * node_count if node else 0.0
    capacity_gb = reported_gb or table_gb
    return Resource(
        service=Service.REDSHIFT,
        region=region,
        resource_id=cluster["ClusterIdentifier"],
        resource_type=node_type,
        attributes={
            "node_count": node_count,
            "node_ids": node_ids(node_count),
            "status": cluster.get("ClusterStatus"),
            "managed_storage": managed,
            "managed_capacity_gb": capacity_gb if managed else 0.0,
            "local_storage_gb": None if managed or not node else capacity_gb,
        },
        created_at=cluster.get("ClusterCreateTime"),
    )


def _workgroup(region: str, workgroup: Mapping[str, Any]) -> Resource:
    return Resource(
        service=Service.REDSHIFT,
        region=region,
        resource_id=workgroup["workgroupName"],
        resource_type=SERVERLESS,
        attributes={
            "namespace": workgroup.get("namespaceName"),
            "status": workgroup.get("status"),
            "base_capacity_rpu": workgroup.get("baseCapacity"),
        },
        created_at=workgroup.get("creationDate"),
    )


SLICE = RedshiftSlice()
