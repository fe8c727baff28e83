"""Fleets of emission records for the top-resources tests, and their exact per-resource sums to compare with."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from carbonmeter.models import EmissionRecord, Range, Service, hours_between

SERVICES = (Service.EC2, Service.EBS, Service.S3, Service.RDS)
REGIONS = ("us-east-1", "eu-west-1")


@dataclass(frozen=True)
class Exact:
    """A resource's figures summed over every hour of its records: what a top must equal when nothing was cut."""

    energy_kwh: float
    operational_kgco2e: float
    embodied_kgco2e: float
    low_kgco2e: float
    high_kgco2e: float

    @property
    def kgco2e(self) -> float:
        return self.operational_kgco2e + self.embodied_kgco2e


def emission(
    connection_id: str,
    hour: datetime,
    resource: int,
    kg: float,
    resource_type: str = "m5.large",
) -> EmissionRecord:
    """Resource number ``resource`` (its service and region follow from the number) emitting ``kg`` in ``hour``:
    four fifths operational, one fifth embodied, with bounds at half and double."""
    return EmissionRecord(
        connection_id=connection_id,
        account_id="123456789012",
        hour=hour,
        region=REGIONS[resource % len(REGIONS)],
        service=SERVICES[resource % len(SERVICES)],
        resource_id=f"r-{resource:05d}",
        resource_type=resource_type,
        hours=1.0,
        compute_kwh=kg * 2,
        memory_kwh=kg / 2,
        storage_kwh=0.0,
        network_kwh=0.0,
        operational_kgco2e=kg * 0.8,
        embodied_kgco2e=kg * 0.2,
        grid_kgco2e_per_kwh=0.4,
        methodology_version="test",
        energy_kwh_range=Range(low=kg, high=kg * 5),
        operational_kgco2e_range=Range(low=kg * 0.4, high=kg * 1.6),
        embodied_kgco2e_range=Range(low=kg * 0.1, high=kg * 0.4),
    )


def fleet_hours(
    connection_id: str,
    start: datetime,
    end: datetime,
    resources: int,
    seed: int = 7,
    present: float = 1.0,
    dominant: int = 0,
) -> dict[datetime, list[EmissionRecord]]:
    """Every hour of [start, end) with up to ``resources`` resources (each present with probability ``present``),
    their figures drawn from ``seed``: a long tail whose ranks move from hour to hour, and the first ``dominant``
    resources some fifty times larger than the rest (as a fleet's few databases are)."""
    draw = random.Random(seed)
    hours: dict[datetime, list[EmissionRecord]] = {}
    for hour in hours_between(start, end):
        hours[hour] = [
            emission(connection_id, hour, number, draw.lognormvariate(0, 1.2) * _scale(number, dominant))
            for number in range(resources)
            if draw.random() < present
        ]
    return hours


def _scale(number: int, dominant: int) -> float:
    return (1 + number % 3) * (50 * (dominant - number) if number < dominant else 1)


def exact_sums(records: Iterable[EmissionRecord]) -> dict[tuple[str, str, str], Exact]:
    """Each resource's figures summed over ``records``, by (service, region, resource id)."""
    sums: dict[tuple[str, str, str], list[float]] = {}
    for record in records:
        key = (str(record.service), record.region, record.resource_id)
        low = _bound(record.operational_kgco2e_range, "low") + _bound(record.embodied_kgco2e_range, "low")
        high = _bound(record.operational_kgco2e_range, "high") + _bound(record.embodied_kgco2e_range, "high")
        figures = (record.energy_kwh, record.operational_kgco2e, record.embodied_kgco2e, low, high)
        known = sums.get(key, [0.0] * 5)
        sums[key] = [a + b for a, b in zip(known, figures, strict=True)]
    return {key: Exact(*values) for key, values in sums.items()}


def _bound(bounds: Range | None, side: str) -> float:
    assert bounds is not None
    return float(getattr(bounds, side))


def largest(sums: dict[tuple[str, str, str], Exact], count: int) -> Sequence[tuple[str, str, str]]:
    """The ``count`` keys with the most kg CO2e, as a top ranks them (ties by key)."""
    return sorted(sums, key=lambda key: (-sums[key].kgco2e, key))[:count]


__all__ = ["REGIONS", "SERVICES", "Exact", "emission", "exact_sums", "fleet_hours", "largest"]
