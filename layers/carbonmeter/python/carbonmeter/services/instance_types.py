"""What the instance types a collection meets are: the layer's snapshot first, then DescribeInstanceTypes, kept per
container.

A type's vCPUs, memory, GPUs and processor are facts about the type, the same in every account and region, and
change when AWS revises a type, which is rare. So the layer ships them as data: ``data/instance-types.json``, a
snapshot of DescribeInstanceTypes (``python -m devtools.instance_types``, ``make instance-types``, refreshes it;
sources in ``data/SOURCES.md``), read once per container on first use, never at import, so a cold start that meets
no instance pays nothing for it. EC2, RDS and ElastiCache ask for the types they find; the catalogue answers those
in the snapshot without any call, and asks EC2 only for the rest (types newer than the snapshot, RDS or ElastiCache
classes with no EC2 twin), keeping each answer a day per region, so a warm collector asks for such a type about once
a day per region instead of for every slice and connection-hour. A type EC2 does not know is remembered as unknown
as well. Asked answers are kept per region, as EC2 gives them (a type is offered in some regions only): regions
collected in parallel then ask exactly what they would alone.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

# DescribeInstanceTypes accepts at most this many InstanceTypes a call.
TYPES_PER_CALL = 100
# How long an asked answer is trusted: AWS revises a type's figures rarely, and a container seldom lives this long.
TTL_SECONDS = 24 * 3600.0
# The layer's snapshot of DescribeInstanceTypes (``python -m devtools.instance_types`` writes it).
SNAPSHOT_FILE = Path(__file__).parents[1] / "data" / "instance-types.json"
# What the snapshot holds of each type: exactly what ``instance_type_spec`` gives, in its order.
SPEC_FIELDS = (
    "vcpus",
    "memory_gib",
    "gpus",
    "gpu_model",
    "cpu_manufacturer",
    "clock_ghz",
    "burstable",
    "supported_architectures",
)

Spec = dict[str, Any]
# A snapshot: type name -> its spec; or what gives it, called once on first use (the shipped file is read lazily).
Snapshot = Mapping[str, Spec]
SnapshotSource = Snapshot | Callable[[], Snapshot]


@functools.cache
def shipped_snapshot() -> Snapshot:
    """The layer's snapshot, read once per process."""
    return snapshot_specs(json.loads(SNAPSHOT_FILE.read_text(encoding="utf-8")))


def snapshot_specs(document: Mapping[str, Any]) -> dict[str, Spec]:
    """The specs of a snapshot file's ``instance_types``, as ``instance_type_spec`` gives them (JSON has no tuples)."""
    return {
        name: {**spec, "supported_architectures": tuple(spec["supported_architectures"])}
        for name, spec in document["instance_types"].items()
    }


class InstanceTypeCatalogue:
    """The specs of instance types: from ``snapshot`` when it has the type, else DescribeInstanceTypes' answer by
    region and type name, kept ``ttl`` seconds; safe across threads.

    ``snapshot`` is a mapping, or a function giving one on first use (the default reads the layer's file then); an
    empty one (``{}``) asks EC2 for every type, as a test of the API path does.
    """

    def __init__(
        self,
        snapshot: SnapshotSource = shipped_snapshot,
        ttl: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot_source = snapshot
        self._snapshot: Snapshot | None = None
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        # (region, type name) -> (when asked, its spec or None for a name EC2 does not know).
        self._known: dict[tuple[str, str], tuple[float, Spec | None]] = {}

    def specs(self, ec2: Any, instance_types: Iterable[str], *, tolerate_unknown: bool = False) -> dict[str, Spec]:
        """The spec of each of ``instance_types`` the snapshot or EC2 knows, asking ``ec2`` only for those the
        snapshot lacks and that were not asked in its region within ``ttl``.

        ``tolerate_unknown`` asks through the ``instance-type`` filter instead of ``InstanceTypes``, so names that
        are not EC2 types are skipped rather than failing the whole call.
        """
        snapshot = self.snapshot()
        names = set(instance_types)
        from_snapshot = {name: snapshot[name] for name in names if name in snapshot}
        asked = self._asked(ec2, names - from_snapshot.keys(), tolerate_unknown=tolerate_unknown)
        return {**asked, **from_snapshot}

    def snapshot(self) -> Snapshot:
        """The snapshot this catalogue answers from, got from its source on first use."""
        with self._lock:
            if self._snapshot is None:
                source = self._snapshot_source
                self._snapshot = source() if callable(source) else source
            return self._snapshot

    def clear(self) -> None:
        """Forget every asked answer, as a new container starts (the snapshot stays: it is the layer's data)."""
        with self._lock:
            self._known.clear()

    def _asked(self, ec2: Any, names: set[str], *, tolerate_unknown: bool) -> dict[str, Spec]:
        if not names:
            return {}
        region = str(ec2.meta.region_name)
        wanted = {(region, name) for name in names}
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
