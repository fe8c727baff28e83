"""Turn one hour of a resource's usage into energy and carbon, and roll the results up per service.

Each service's own formulas live in its slice (``carbonmeter/services/<service>.py``), which gives the compute,
memory, storage and embodied parts (a network service, CloudFront, a network part of its own too); the rest is
the same for every service and is done here: the network added from ``network_out_bytes``, the
PUE bounds and the grid factor, then the roll-ups.

Every figure is carried as a low / central / high band (``uncertainty.Band``); the record's flat fields are the
central figures and its ``*_range`` fields the bounds. ``docs/methodology.md`` gives the rules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, load_coefficients
from carbonmeter.emissions.hardware import GPU_MODEL_UNKNOWN, MICROARCHITECTURE_UNKNOWN
from carbonmeter.emissions.parts import (
    AURORA_SERVERLESS_ACU,
    BURSTABLE_BASELINE_SCALING,
    BURSTABLE_BASELINE_UNKNOWN,
    CAPACITY_UNKNOWN,
    GPU_UTILISATION_DEFAULT,
    GRID_FACTOR_WORLD_AVERAGE,
    INSTANCE_TYPE_NOT_IN_DATA,
    REGION_GRID_FACTOR_FALLBACK,
    STORAGE_CLASS_UNKNOWN,
    UTILISATION_DEFAULT,
    Parts,
    network,
)
from carbonmeter.emissions.uncertainty import ZERO, Band, total
from carbonmeter.gc_pause import gc_paused
from carbonmeter.models import GLOBAL_REGION, EmissionRecord, Range, Rollup, Service, UsageRecord

if TYPE_CHECKING:
    from carbonmeter.services.base import ServiceSlice

__all__ = [
    "AURORA_SERVERLESS_ACU",
    "BURSTABLE_BASELINE_SCALING",
    "BURSTABLE_BASELINE_UNKNOWN",
    "CAPACITY_UNKNOWN",
    "GPU_MODEL_UNKNOWN",
    "GPU_UTILISATION_DEFAULT",
    "GRID_FACTOR_WORLD_AVERAGE",
    "INSTANCE_TYPE_NOT_IN_DATA",
    "MICROARCHITECTURE_UNKNOWN",
    "REGION_GRID_FACTOR_FALLBACK",
    "STORAGE_CLASS_UNKNOWN",
    "UTILISATION_DEFAULT",
    "estimate",
    "estimate_all",
    "rollup",
]


def _service_parts(usage: UsageRecord, c: Coefficients) -> Parts:
    return _slices()[usage.service].parts(usage, c)


@cache
def _slices() -> Mapping[Service, ServiceSlice[Any]]:
    # Imported on first use, not at the top: the slices import this package's shared pieces. Once, not per record.
    from carbonmeter.services import SLICES

    return SLICES


def estimate(usage: UsageRecord, coefficients: Coefficients | None = None) -> EmissionRecord:
    """Energy (kWh, PUE included), operational and embodied kg CO2e of one usage record, with their bounds."""
    c = coefficients or load_coefficients()
    k = c.constants
    parts = _service_parts(usage, c)
    # Added to the slice's own network part (CloudFront's edge delivery), zero for most services.
    parts.network = parts.network + _network(c, usage.network_out_bytes)
    grid_kg_per_kwh, own_factor, grid_low_kg, grid_high_kg = _grid(c, usage.region)
    if not own_factor:
        parts.flag(REGION_GRID_FACTOR_FALLBACK)
    if usage.region == GLOBAL_REGION:
        parts.flag(GRID_FACTOR_WORLD_AVERAGE)

    # The parts use the central PUE; the energy bounds take AWS's best site and the industry average.
    energy = total((parts.compute, parts.memory, parts.storage, parts.network)).scaled(
        k.pue_low / k.pue, k.pue_high / k.pue
    )
    operational = Band.around(
        m.operational_co2e(energy.central, grid_kg_per_kwh),
        m.operational_co2e(energy.low, grid_low_kg),
        m.operational_co2e(energy.high, grid_high_kg),
    )
    # Built without validation: every value is one of ours, each figure made a float as validation would make it
    # (a slice may compute an int zero). Validating was most of the estimate's time (docs/benchmarks.md).
    return EmissionRecord.of_builtin_figures(
        usage,
        (
            float(parts.compute.central),
            float(parts.memory.central),
            float(parts.storage.central),
            float(parts.network.central),
            float(operational.central),
            float(parts.embodied.central),
            float(grid_kg_per_kwh),
        ),
        m.METHODOLOGY_VERSION,
        tuple(parts.flags),
        (_range(energy), _range(operational), _range(parts.embodied)),
    )


def _range(band: Band) -> Range:
    if band is ZERO:  # a part the slice left unset (most services' embodied): one immutable Range serves them all
        return _ZERO_RANGE
    # Validated (a two-field model validates about as fast as it builds unvalidated), by its validator directly.
    return _validate_range({"low": band.low, "high": band.high})


_validate_range = Range.__pydantic_validator__.validate_python
_ZERO_RANGE = Range(low=ZERO.low, high=ZERO.high)


def _network(c: Coefficients, network_out_bytes: float) -> Band:
    """``network``, whose band for no bytes out (most records) is worked out once per set of coefficients."""
    if network_out_bytes:
        return network(c, network_out_bytes)
    found: Band | None = c.memo.get("network_none")
    if found is None:
        found = c.memo["network_none"] = network(c, network_out_bytes)
    return found


def _grid(c: Coefficients, region: str) -> tuple[float, bool, float, float]:
    """The region's grid factor (kg CO2e/kWh), whether it is its own, and its bounds: looked up once per region."""
    key = ("grid", region)
    found: tuple[float, bool, float, float] | None = c.memo.get(key)
    if found is None:
        grid_t_per_kwh, own_factor = c.grid_factor(region)
        low_t, high_t = c.grid_factor_bounds(region)
        found = c.memo[key] = (
            grid_t_per_kwh * m.KG_PER_TONNE,
            own_factor,
            low_t * m.KG_PER_TONNE,
            high_t * m.KG_PER_TONNE,
        )
    return found


def estimate_all(usages: Iterable[UsageRecord], coefficients: Coefficients | None = None) -> list[EmissionRecord]:
    c = coefficients or load_coefficients()
    # The garbage collector paused: an hour's thousands of records only add to what is held, and each full pass
    # walked them all again for nothing (a third of the estimate's time; docs/benchmarks.md).
    with gc_paused:
        return [estimate(usage, c) for usage in usages]


def rollup(records: Iterable[EmissionRecord]) -> list[Rollup]:
    """One total per (connection, hour, region, service), sorted by that key.

    ``resources`` counts distinct resource ids, so an S3 bucket with several storage classes counts once.
    Bounds are summed (every record at its low, or every one at its high): the records share coefficients,
    so their errors move together, and adding them in quadrature would understate the spread.
    """
    groups: dict[tuple[str, datetime, str, Service], list[EmissionRecord]] = {}
    for record in records:
        key = (record.connection_id, record.hour, record.region, record.service)
        groups.setdefault(key, []).append(record)
    return [_rollup_of(key, groups[key]) for key in sorted(groups)]


def _rollup_of(key: tuple[str, datetime, str, Service], records: list[EmissionRecord]) -> Rollup:
    connection_id, hour, region, service = key
    return Rollup(
        connection_id=connection_id,
        hour=hour,
        region=region,
        service=service,
        resources=len({r.resource_id for r in records}),
        energy_kwh=math.fsum(r.energy_kwh for r in records),
        operational_kgco2e=math.fsum(r.operational_kgco2e for r in records),
        embodied_kgco2e=math.fsum(r.embodied_kgco2e for r in records),
        # Mixed versions in one group would mean records computed by different releases; say so, don't hide it.
        methodology_version="+".join(sorted({r.methodology_version for r in records})),
        flagged_resources=_flagged_resources(records),
        grid_kgco2e_per_kwh=tuple(sorted({r.grid_kgco2e_per_kwh for r in records})),
        energy_kwh_range=_summed_range([(r.energy_kwh, r.energy_kwh_range) for r in records]),
        operational_kgco2e_range=_summed_range([(r.operational_kgco2e, r.operational_kgco2e_range) for r in records]),
        embodied_kgco2e_range=_summed_range([(r.embodied_kgco2e, r.embodied_kgco2e_range) for r in records]),
    )


def _flagged_resources(records: list[EmissionRecord]) -> dict[str, int]:
    """Distinct resources per flag: an S3 bucket with two flagged storage classes counts once."""
    resources: dict[str, set[str]] = {}
    for record in records:
        for flag in record.flags:
            resources.setdefault(flag, set()).add(record.resource_id)
    return {flag: len(ids) for flag, ids in sorted(resources.items())}


def _summed_range(values: list[tuple[float, Range | None]]) -> Range | None:
    if all(bounds is None for _, bounds in values):
        return None
    return Range(
        low=math.fsum(bounds.low if bounds else central for central, bounds in values),
        high=math.fsum(bounds.high if bounds else central for central, bounds in values),
    )
