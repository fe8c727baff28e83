"""CloudWatch history for seeded resources: load profiles, hourly datums, and a batching writer.

Metrics are written into the AWS/* namespaces with the dimensions AWS uses, already aggregated per hour
(StatisticValues), so CloudWatch's Average, Sum, Minimum, Maximum and SampleCount all answer as they would for
the services' own 5-minute or 1-minute data.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# PutMetricData accepts at most this many datums a call.
MAX_DATUMS_PER_CALL = 1000


@dataclass(frozen=True)
class Profile:
    """How busy one resource is: a daily cycle around a base level, peaking at a local hour."""

    base: float
    swing: float
    peak_hour: float

    @classmethod
    def draw(cls, rng: random.Random, peak_hour: float) -> Profile:
        """A resource of a region whose business day peaks at ``peak_hour``, give or take two hours."""
        return cls(base=rng.uniform(5, 25), swing=rng.uniform(5, 55), peak_hour=peak_hour + rng.uniform(-2, 2))

    def load(self, hour: datetime) -> float:
        """Between 0 (quietest hour) and 1 (busiest)."""
        return 0.5 + 0.5 * math.cos(2 * math.pi * (hour.hour - self.peak_hour) / 24)


class MetricWriter:
    """Buffers datums per namespace and writes them with as few PutMetricData calls as possible."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch
        self._pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.written = 0

    def add(self, namespace: str, datum: dict[str, Any]) -> None:
        pending = self._pending[namespace]
        pending.append(datum)
        if len(pending) == MAX_DATUMS_PER_CALL:
            self._write(namespace)

    def flush(self) -> None:
        for namespace in list(self._pending):
            self._write(namespace)

    def _write(self, namespace: str) -> None:
        datums = self._pending.pop(namespace, [])
        if datums:
            self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums)
            self.written += len(datums)


def mean_datum(
    name: str,
    dimensions: list[dict[str, str]],
    hour: datetime,
    mean: float,
    samples: int,
    unit: str,
    rng: random.Random,
) -> dict[str, Any]:
    """An hour of ``samples`` readings averaging ``mean``, spread around it."""
    spread = rng.uniform(1, 15)
    low, high = max(0.0, mean - spread), min(100.0, mean + spread)
    return datum(name, dimensions, hour, unit, count=samples, total=mean * samples, low=low, high=high)


def total_datum(
    name: str, dimensions: list[dict[str, str]], hour: datetime, total: float, samples: int, unit: str
) -> dict[str, Any]:
    """An hour of ``samples`` readings adding up to ``total``."""
    mean = total / samples
    return datum(name, dimensions, hour, unit, count=samples, total=total, low=mean * 0.5, high=mean * 1.5)


def datum(
    name: str,
    dimensions: list[dict[str, str]],
    hour: datetime,
    unit: str,
    *,
    count: float,
    total: float,
    low: float,
    high: float,
) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": hour,
        "StatisticValues": {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high},
        "Unit": unit,
    }


def clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
