"""What DescribeInstanceTypes says about the instance types a collection meets, kept per container.

A type's vCPUs, memory, GPUs and processor are facts about the type, the same in every account, and change when
AWS revises a type, which is rare. EC2, RDS and ElastiCache ask for the types they find; the catalogue answers from
what an earlier call of this container already asked in that region and asks EC2 only for the rest, so a warm
collector asks for each type about once a day per region instead of for every slice and connection-hour. A type
EC2 does not know (an RDS or ElastiCache class with no EC2 twin) is remembered as unknown as well. Answers are kept
per region, as EC2 gives them (a type is offered in some regions only): regions collected in parallel then ask
exactly what they would alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# DescribeInstanceTypes accepts at most this many InstanceTypes a call.
TYPES_PER_CALL = 100
# How long an answer is trusted: AWS revises a type's figures rarely, and a container seldom lives this long.
TTL_SECONDS = 24 * 3600.0

Spec = dict[str, Any]


class InstanceTypeCatalogue:
    """Answers of DescribeInstanceTypes by region and type name, each kept ``ttl`` seconds; safe across threads."""

    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        # (region, type name) -> (when asked, its spec or None for a name EC2 does not know).
        self._known: dict[tuple[str, str], tuple[float, Spec | None]] = {}

    def specs(self, ec2: Any, instance_types: Iterable[str], *, tolerate_unknown: bool = False) -> dict[str, Spec]:
        """The spec of each of ``instance_types`` EC2 knows, asking ``ec2`` only for those not kept or expired.

        ``tolerate_unknown`` asks through the ``instance-type`` filter instead of ``InstanceTypes``, so names that
        are not EC2 types are skipped rather than failing the whole call.
        """
        region = str(ec2.meta.region_name)
        wanted = {(region, name) for name in instance_types}
        missing = sorted(key for key in wanted if not self._fresh(key))
        if missing:
            found = _describe(ec2, [name for _, name in missing], tolerate_unknown=tolerate_unknown)
            asked_at = self._clock()
            with self._lock:
                for key in missing:
                    self._known[key] = (asked_at, found.get(key[1]))
        with self._lock:
            kept = {key[1]: self._known[key][1] for key in wanted if key in self._known}
        return {name: spec for name, spec in kept.items() if spec is not None}

    def clear(self) -> None:
        """Forget every answer (tests start from an empty catalogue)."""
        with self._lock:
            self._known.clear()

    def _fresh(self, key: tuple[str, str]) -> bool:
        with self._lock:
            entry = self._known.get(key)
        return entry is not None and self._clock() - entry[0] < self._ttl


# The container's catalogue: Lambda keeps module state between invocations of a warm container.
CATALOGUE = InstanceTypeCatalogue()


def describe_instance_types(
    ec2: Any, instance_types: Iterable[str], *, tolerate_unknown: bool = False
) -> dict[str, Spec]:
    """What DescribeInstanceTypes says about each type, keyed by type name, through the container's catalogue."""
    return CATALOGUE.specs(ec2, instance_types, tolerate_unknown=tolerate_unknown)


def _describe(ec2: Any, ordered: list[str], *, tolerate_unknown: bool) -> dict[str, Spec]:
    specs: dict[str, Spec] = {}
    for index in range(0, len(ordered), TYPES_PER_CALL):
        batch = ordered[index : index + TYPES_PER_CALL]
        query: dict[str, Any] = (
            {"Filters": [{"Name": "instance-type", "Values": batch}]} if tolerate_unknown else {"InstanceTypes": batch}
        )
        for page in ec2.get_paginator("describe_instance_types").paginate(**query):
            for info in page["InstanceTypes"]:
                specs[info["InstanceType"]] = instance_type_spec(info)
    return specs


def instance_type_spec(info: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of one DescribeInstanceTypes entry the methodology uses."""
    gpus = info.get("GpuInfo", {}).get("Gpus", [])
    processor = info.get("ProcessorInfo", {})
    return {
        "vcpus": info["VCpuInfo"]["DefaultVCpus"],
        "memory_gib": info["MemoryInfo"]["SizeInMiB"] / 1024,
        "gpus": sum(_gpu_count(gpu) for gpu in gpus),
        # An instance type carries one GPU model; name it as "<Manufacturer> <Name>", e.g. "NVIDIA T4".
        "gpu_model": _gpu_model(gpus[0]) if gpus else None,
        "cpu_manufacturer": processor.get("Manufacturer"),
        "clock_ghz": processor.get("SustainedClockSpeedInGhz"),
        "burstable": bool(info.get("BurstablePerformanceSupported", False)),
        "supported_architectures": tuple(processor.get("SupportedArchitectures", ())),
    }


def _gpu_count(gpu: Mapping[str, Any]) -> float:
    """Whole GPUs, or for a fractional-GPU type (Count 0) its share of one: LogicalGpuCount x GpuPartitionSize."""
    count = gpu.get("Count", 0)
    if count:
        return float(count)
    return float(gpu.get("LogicalGpuCount", 0)) * float(gpu.get("GpuPartitionSize", 0.0))


def _gpu_model(gpu: Mapping[str, Any]) -> str | None:
    name = " ".join(part for part in (gpu.get("Manufacturer"), gpu.get("Name")) if part)
    return name or None
