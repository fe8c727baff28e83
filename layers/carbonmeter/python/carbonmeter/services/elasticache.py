"""ElastiCache: every node-based cache cluster in the region, with its nodes' hourly host CPU utilisation.

A node type ``cache.X`` runs on the EC2 type ``X``, as an RDS class ``db.X`` does: DescribeInstanceTypes sizes it
(memory, CPU manufacturer, burstable) when such a type exists, and ``X`` gives power and embodied. vCPUs per node
come from ElastiCache's own table (``elasticache-node-vcpus.csv``), then DescribeInstanceTypes, then the EC2 table.
A cluster of N nodes is N such machines. Redis/Valkey replicas are cache clusters of their own (one record each,
their nodes real hardware), so no replication factor is applied. Each node's ``NetworkBytesOut`` is the cluster's
network.

A serverless cache (DescribeServerlessCaches) has no node type: it is the memory its data takes
(``BytesUsedForCache``), held in two copies, and its ``NetworkBytesOut``; the ECPUs it used are recorded but not
estimated, so its compute is missing (flagged: a floor, ``docs/methodology.md``).

The estimate is the shared virtual-machine one (``emissions/instances.py``) and memory one (``parts.memory``),
builtin only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from statistics import fmean
from types import MappingProxyType
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients, rows
from carbonmeter.emissions.instances import Machine, add_instance
from carbonmeter.emissions.parts import Parts, memory
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import HourContext, Resource, ServiceSlice
from carbonmeter.services.instance_types import describe_instance_types

NAMESPACE = "AWS/ElastiCache"
PERIOD = 3600
NODE_VCPUS_FILE = "elasticache-node-vcpus.csv"
_TYPE_PREFIX = "cache."
# The resource type of a serverless cache: it has no node type.
SERVERLESS = "serverless"
# AWS replicates a serverless cache's data across availability zones without saying into how many copies: two (a
# primary and one replica) is the least that replication can mean.
SERVERLESS_COPIES = 2.0
BYTES_PER_GIB = 1024.0**3

# Flags (docs/methodology.md, "ElastiCache"): each names an assumption on every record it shapes.
SERVERLESS_MEMORY_ONLY = "elasticache_serverless_memory_only"
SERVERLESS_COPIES_ASSUMED = "elasticache_serverless_two_copies"
SERVERLESS_NOT_MEASURED = "elasticache_serverless_data_not_measured"


class ElastiCacheUsage(ServiceUsage):
    """A cache cluster-hour: its node type's size (per node), node count, engine and the nodes' mean CPU."""

    service: Literal[Service.ELASTICACHE] = Service.ELASTICACHE
    node_count: int = 1
    vcpus: float | None = None
    memory_gib: float | None = None
    cpu_utilization_pct: float | None = None
    cpu_manufacturer: str | None = None
    burstable: bool = False
    engine: str | None = None
    # Serverless caches: the hour's average data stored (None: no datapoint) and the ECPUs used (recorded only).
    data_gib: float | None = None
    ecpus: float | None = None


class ElastiCacheSlice(ServiceSlice[ElastiCacheUsage]):
    name = Service.ELASTICACHE
    details_type = ElastiCacheUsage
    read_actions = (
        "ec2:DescribeInstanceTypes",
        "elasticache:DescribeCacheClusters",
        "elasticache:DescribeServerlessCaches",
    )
    # Boavizta and the HTTP API could take it as EC2 instances; until their contracts say so, builtin only.
    providers = frozenset()
    main_part = "compute"
    data_files = ("ec2-instance-types.csv", NODE_VCPUS_FILE)
    embodied_not_modelled = None
    flag_meanings = MappingProxyType(
        {
            SERVERLESS_MEMORY_ONLY: "serverless cache: its data's memory only, ECPUs not estimated (a floor)",
            SERVERLESS_COPIES_ASSUMED: "serverless cache's data counted in two copies",
            SERVERLESS_NOT_MEASURED: "no BytesUsedForCache datapoint this hour: no memory part",
        }
    )

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        pages = (
            clients.client("elasticache", region)
            .get_paginator("describe_cache_clusters")
            .paginate(ShowCacheNodeInfo=True)
        )
        clusters = [cluster for page in pages for cluster in page["CacheClusters"]]
        ec2_types = {name for cluster in clusters if (name := ec2_type(cluster["CacheNodeType"]))}
        specs = (
            describe_instance_types(clients.client("ec2", region), ec2_types, tolerate_unknown=True)
            if ec2_types
            else {}
        )
        nodes = [
            _resource(region, cluster, specs.get(ec2_type(cluster["CacheNodeType"]) or "", {})) for cluster in clusters
        ]
        return nodes + _serverless_caches(clients, region)

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        if resource.resource_type == SERVERLESS:
            return _serverless_requests(resource.resource_id, hour)
        # Host metrics are published per node, never per cluster.
        return [
            MetricRequest(
                NAMESPACE,
                name,
                (("CacheClusterId", resource.resource_id), ("CacheNodeId", node_id)),
                statistic,
                PERIOD,
                hour,
                hour + HOUR,
            )
            for node_id in resource.attributes["node_ids"]
            for name, statistic in (("CPUUtilization", "Average"), ("NetworkBytesOut", "Sum"))
        ]

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        requests = self.metric_requests(resource, context.hour)
        sent = sum(sum(metrics.get(request, ())) for request in requests if request.metric_name == "NetworkBytesOut")
        if resource.resource_type == SERVERLESS:
            details = _serverless_usage(resource, requests, metrics)
            return [self.record(resource, context, details, network_out_bytes=sent)]
        per_node = [
            fmean(values)
            for request in requests
            if request.metric_name == "CPUUtilization" and (values := metrics.get(request, ()))
        ]
        attributes = resource.attributes
        details = ElastiCacheUsage(
            node_count=len(attributes["node_ids"]),
            # The cluster's utilisation is its nodes' mean; a node without a datapoint is left out, not zero.
            cpu_utilization_pct=fmean(per_node) if per_node else None,
            vcpus=attributes.get("vcpus"),
            memory_gib=attributes.get("memory_gib"),
            cpu_manufacturer=attributes.get("cpu_manufacturer"),
            burstable=bool(attributes.get("burstable")),
            engine=attributes["engine"],
        )
        return [self.record(resource, context, details, network_out_bytes=sent)]

    def estimate(self, usage: UsageRecord, details: ElastiCacheUsage, c: Coefficients) -> Parts:
        parts = Parts()
        if usage.resource_type == SERVERLESS:
            _add_serverless(parts, usage, details, c)
        else:
            add_instance(parts, _machine(usage, details), c)
        return parts


def _serverless_caches(clients: ClientFactory, region: str) -> list[Resource]:
    pages = clients.client("elasticache", region).get_paginator("describe_serverless_caches").paginate()
    return [
        Resource(
            service=Service.ELASTICACHE,
            region=region,
            resource_id=cache["ServerlessCacheName"],
            resource_type=SERVERLESS,
            attributes={"engine": cache.get("Engine"), "status": cache.get("Status")},
            created_at=cache.get("CreateTime"),
        )
        for page in pages
        for cache in page.get("ServerlessCaches", [])
    ]


def _serverless_requests(name: str, hour: datetime) -> list[MetricRequest]:
    # A serverless cache's metrics carry one dimension, clusterId, its name.
    return [
        MetricRequest(NAMESPACE, metric, (("clusterId", name),), statistic, PERIOD, hour, hour + HOUR)
        for metric, statistic in (
            ("BytesUsedForCache", "Average"),
            ("ElastiCacheProcessingUnits", "Sum"),
            ("NetworkBytesOut", "Sum"),
        )
    ]


def _serverless_usage(
    resource: Resource, requests: Sequence[MetricRequest], metrics: Mapping[MetricRequest, Sequence[float]]
) -> ElastiCacheUsage:
    found = {request.metric_name: values for request in requests if (values := metrics.get(request, ()))}
    stored = found.get("BytesUsedForCache")
    ecpus = found.get("ElastiCacheProcessingUnits")
    return ElastiCacheUsage(
        node_count=0,
        engine=resource.attributes["engine"],
        data_gib=fmean(stored) / BYTES_PER_GIB if stored else None,
        ecpus=sum(ecpus) if ecpus else None,
    )


def _add_serverless(parts: Parts, usage: UsageRecord, details: ElastiCacheUsage, c: Coefficients) -> None:
    # No public figure turns ECPUs into energy, and the hosts behind a serverless cache are not published: what
    # is counted is the memory holding its data, a floor (no compute, no embodied).
    parts.flag(SERVERLESS_MEMORY_ONLY)
    if details.data_gib is None:
        parts.flag(SERVERLESS_NOT_MEASURED)
        return
    parts.flag(SERVERLESS_COPIES_ASSUMED)
    parts.memory = memory(c, details.data_gib * usage.hours, SERVERLESS_COPIES)


def _machine(usage: UsageRecord, details: ElastiCacheUsage) -> Machine:
    table = node_vcpus().get(usage.resource_type)
    return Machine(
        type_name=usage.resource_type.removeprefix(_TYPE_PREFIX),
        hours=usage.hours,
        # ElastiCache's own figure first; add_instance falls back to the EC2 table for X when both are missing.
        vcpus=table if table is not None else details.vcpus,
        memory_gib=details.memory_gib,
        cpu_utilization_pct=details.cpu_utilization_pct,
        cpu_manufacturer=details.cpu_manufacturer,
        burstable=details.burstable,
        multiplier=float(details.node_count),
    )


@cache
def node_vcpus() -> Mapping[str, float]:
    """vCPUs per ElastiCache node type (``elasticache-node-vcpus.csv``), read once per process."""
    return MappingProxyType({row["cache_node_type"]: float(row["vcpus"]) for row in rows(NODE_VCPUS_FILE)})


def ec2_type(cache_node_type: str) -> str | None:
    """``cache.r6g.large`` -> ``r6g.large``; None for a name that is not ``cache.X``."""
    if not cache_node_type.startswith(_TYPE_PREFIX):
        return None
    return cache_node_type.removeprefix(_TYPE_PREFIX)


def node_ids(cluster: Mapping[str, Any]) -> tuple[str, ...]:
    """The cluster's node ids, as CloudWatch's ``CacheNodeId`` dimension names them.

    ShowCacheNodeInfo lists them under ``CacheNodes``; an answer without that list (moto's) falls back to the
    names ElastiCache gives, ``0001`` to ``NumCacheNodes`` zero-padded to four digits.
    """
    nodes = cluster.get("CacheNodes")
    if nodes:
        return tuple(node["CacheNodeId"] for node in nodes)
    return tuple(f"{number:04d}" for number in range(1, int(cluster.get("NumCacheNodes", 1)) + 1))


def _resource(region: str, cluster: Mapping[str, Any], spec: Mapping[str, Any]) -> Resource:
    return Resource(
        service=Service.ELASTICACHE,
        region=region,
        resource_id=cluster["CacheClusterId"],
        resource_type=cluster["CacheNodeType"],
        attributes={
            "node_ids": node_ids(cluster),
            "engine": cluster.get("Engine"),
            "status": cluster.get("CacheClusterStatus"),
            "replication_group": cluster.get("ReplicationGroupId"),
            "vcpus": spec.get("vcpus"),
            "memory_gib": spec.get("memory_gib"),
            "cpu_manufacturer": spec.get("cpu_manufacturer"),
            "burstable": spec.get("burstable", False),
        },
        created_at=cluster.get("CacheClusterCreateTime"),
    )


SLICE = ElastiCacheSlice()
