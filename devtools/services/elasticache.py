"""ElastiCache on the workbench: node-based cache clusters (a Redis node, a Memcached pair) and their nodes' CPU.

ElastiCache publishes host metrics every minute, so each hourly datum carries 60 samples, one series per node
(CacheClusterId + CacheNodeId). moto answers DescribeCacheClusters without ``CacheNodes``; the nodes are named as
ElastiCache names them (``0001``, ``0002``, ...), which is also the slice's fallback. The slice also reads node
types through the EC2 API.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbonmeter.models import Service
from carbonmeter.services.elasticache import NAMESPACE, node_ids
from devtools.services.base import ClientFaults, RegionSeeding, ServiceDevtools
from devtools.services.ec2 import EC2_API
from devtools.services.metrics import MetricWriter, Profile, clamp, mean_datum

SAMPLES_PER_HOUR = 60  # ElastiCache publishes host metrics every minute

ELASTICACHE_API = ClientFaults(
    "elasticache", throttling=("Throttling", 400), region_not_enabled=("InvalidClientTokenId", 403), soak_order=8
)


@dataclass(frozen=True)
class CacheClusterSpec:
    engine: str
    node_type: str
    nodes: int


class ElastiCacheDevtools(ServiceDevtools[CacheClusterSpec]):
    service = Service.ELASTICACHE
    clients = (ELASTICACHE_API, EC2_API)
    demo_fleet = (
        CacheClusterSpec("redis", "cache.r6g.large", nodes=1),
        CacheClusterSpec("memcached", "cache.t3.medium", nodes=2),
    )
    fleet_share = 0.05

    def create(self, seeding: RegionSeeding, specs: Sequence[CacheClusterSpec]) -> None:
        # Each cluster draws its profile, then its metrics: interleaved, as RDS does.
        for index, spec in enumerate(specs):
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


DEVTOOLS = ElastiCacheDevtools()
