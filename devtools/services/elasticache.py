"""ElastiCache on the workbench: node-based cache clusters (a Redis node, a Memcached pair) with their nodes' CPU
and bytes sent, and a Valkey serverless cache with its data stored, ECPUs and bytes sent.

ElastiCache publishes metrics every minute, so each hourly datum carries 60 samples: one series per node
(CacheClusterId + CacheNodeId), one per serverless cache (clusterId). moto answers DescribeCacheClusters without
``CacheNodes``; the nodes are named as ElastiCache names them (``0001``, ``0002``, ...), which is also the slice's
fallback. moto has no serverless caches: ``devtools/aws/elasticache_serverless.py`` adds them. The slice also
reads node types through the EC2 API.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from carbonmeter.services.elasticache import NAMESPACE, SERVERLESS, node_ids
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.ec2 import EC2_API
from devtools.services.metrics import MetricWriter, Profile, clamp, mean_datum, total_datum

SAMPLES_PER_HOUR = 60  # ElastiCache publishes its metrics every minute
GIB = 1024.0**3

ELASTICACHE_API = ClientFaults(
    "elasticache", throttling=("Throttling", 400), region_not_enabled=("InvalidClientTokenId", 403), soak_order=8
)


@dataclass(frozen=True)
class CacheClusterSpec:
    """A node-based cluster of ``nodes`` nodes, or a serverless cache (node type ``SERVERLESS``, no nodes)."""

    engine: str
    node_type: str
    nodes: int


class ElastiCacheDevtools(ServiceDevtools[CacheClusterSpec]):
    service = Service.ELASTICACHE
    clients = (ELASTICACHE_API, EC2_API)
    demo_fleet = (
        CacheClusterSpec("redis", "cache.r6g.large", nodes=1),
        CacheClusterSpec("memcached", "cache.t3.medium", nodes=2),
        CacheClusterSpec("valkey", SERVERLESS, nodes=0),
    )
    fleet_share = 0.05

    def create(self, seeding: RegionSeeding, specs: Sequence[CacheClusterSpec]) -> None:
        # Each cluster draws its profile, then its metrics: interleaved, as RDS does.
        for index, spec in enumerate(specs):
            if spec.node_type == SERVERLESS:
                name = _create_serverless_cache(seeding.client("elasticache"), index, spec)
                seeding.resources[Service.ELASTICACHE].append(name)
                profile = Profile.draw(seeding.rng, seeding.peak_hour)
                _put_serverless_metrics(seeding.metrics, name, profile, seeding.hours, seeding.rng)
                continue
            cluster = _create_cluster(seeding.client("elasticache"), index, spec)
            seeding.resources[Service.ELASTICACHE].append(cluster["CacheClusterId"])
            profile = Profile.draw(seeding.rng, seeding.peak_hour)
            _put_node_metrics(seeding.metrics, cluster, profile, seeding.hours, seeding.rng)


def _create_cluster(elasticache: Any, index: int, spec: CacheClusterSpec) -> dict[str, Any]:
    identifier = f"demo-{spec.engine}-{index:05d}"
    with contextlib.suppress(elasticache.exceptions.CacheClusterAlreadyExistsFault):
        elasticache.create_cache_cluster(
            CacheClusterId=identifier, Engine=spec.engine, CacheNodeType=spec.node_type, NumCacheNodes=spec.nodes
        )
    (cluster,) = elasticache.describe_cache_clusters(CacheClusterId=identifier, ShowCacheNodeInfo=True)["CacheClusters"]
    return dict(cluster)


def _create_serverless_cache(elasticache: Any, index: int, spec: CacheClusterSpec) -> str:
    name = f"demo-{spec.engine}-serverless-{index:05d}"
    with contextlib.suppress(elasticache.exceptions.ServerlessCacheAlreadyExistsFault):
        elasticache.create_serverless_cache(ServerlessCacheName=name, Engine=spec.engine)
    return name


def _put_serverless_metrics(
    metrics: MetricWriter, name: str, profile: Profile, hours: Sequence[datetime], rng: random.Random
) -> None:
    # A few GiB of data that hardly moves over a day, and requests (ECPUs, bytes sent) that follow the load.
    dimensions = [{"Name": "clusterId", "Value": name}]
    stored = rng.uniform(1, 8) * GIB
    for hour in hours:
        load = profile.load(hour)
        hourly = {
            # the hour's average size: a total of 60 readings
            "BytesUsedForCache": (stored * (1 + 0.05 * load) * SAMPLES_PER_HOUR, "Bytes"),
            "ElastiCacheProcessingUnits": (1e6 * (0.2 + load) * rng.uniform(0.9, 1.1), "Count"),
            "NetworkBytesOut": (2e8 * (0.2 + load) * rng.uniform(0.9, 1.1), "Bytes"),
        }
        for name, (total, unit) in hourly.items():
            metrics.add(NAMESPACE, total_datum(name, dimensions, hour, total, SAMPLES_PER_HOUR, unit))


def _put_node_metrics(
    metrics: MetricWriter, cluster: dict[str, Any], profile: Profile, hours: Sequence[datetime], rng: random.Random
) -> None:
    # A cache is mostly memory-bound: its hosts idle lower than a database's, and its nodes share the load.
    for node_id in node_ids(cluster):
        dimensions = [
            {"Name": "CacheClusterId", "Value": cluster["CacheClusterId"]},
            {"Name": "CacheNodeId", "Value": node_id},
        ]
        for hour in hours:
            cpu = clamp(profile.base / 2 + profile.swing * profile.load(hour) / 2 + rng.gauss(0, 1), 2, 60)
            metrics.add(
                NAMESPACE, mean_datum("CPUUtilization", dimensions, hour, cpu, SAMPLES_PER_HOUR, "Percent", rng)
            )
            sent = 5e7 * (0.2 + profile.load(hour)) * rng.uniform(0.8, 1.2)
            metrics.add(NAMESPACE, total_datum("NetworkBytesOut", dimensions, hour, sent, SAMPLES_PER_HOUR, "Bytes"))


DEVTOOLS = ElastiCacheDevtools()
