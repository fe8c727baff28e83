"""What a service's estimator returns (``Parts``), the flags it may raise, and the pieces every estimator shares.

A service slice (``carbonmeter/services/<service>.py``) turns its usage into ``Parts``; ``estimate.py`` adds the
network, the grid factor and the PUE bounds, the same for every service. ``docs/methodology.md`` gives the rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, Watts
from carbonmeter.emissions.hardware import PowerModel
from carbonmeter.emissions.uncertainty import ZERO, Band

# Flags: short, stable strings telling a reader which fallback shaped a figure. Those naming what was mapped
# to what (``microarchitecture_mapped:Ice Lake->Cascade Lake``) come from ``hardware``.
UTILISATION_DEFAULT = "utilisation_default_50pct"
INSTANCE_TYPE_NOT_IN_DATA = "instance_type_not_in_data"
REGION_GRID_FACTOR_FALLBACK = "region_grid_factor_fallback"
CAPACITY_UNKNOWN = "capacity_unknown"
BURSTABLE_BASELINE_SCALING = "burstable_baseline_scaling"
BURSTABLE_BASELINE_UNKNOWN = "burstable_baseline_unknown"
GPU_UTILISATION_DEFAULT = "gpu_utilisation_default_50pct"
STORAGE_CLASS_UNKNOWN = "storage_class_unknown"
AURORA_SERVERLESS_ACU = "aurora_serverless_acu_mapping"
# The record is a global service's (region ``global``): its grid factor is the world average, not a region's.
GRID_FACTOR_WORLD_AVERAGE = "grid_factor_world_average"


@dataclass
class Parts:
    """Energy (kWh, central PUE) and embodied kg CO2e of one usage record, part by part, with its flags."""

    compute: Band = ZERO
    memory: Band = ZERO
    storage: Band = ZERO
    network: Band = ZERO
    embodied: Band = ZERO
    flags: list[str] = field(default_factory=list)

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


def utilisation(measured: float | None, c: Coefficients, parts: Parts) -> tuple[Band, bool]:
    """CPU utilisation in percent, and whether it was measured.

    Measured: the hour's average +- the band. Not measured: the default (flagged), bounded by idle and full load.
    """
    if measured is None or math.isnan(measured):
        parts.flag(UTILISATION_DEFAULT)
        return Band(0.0, c.constants.default_utilisation_pct, 100.0), False
    value = m.clamp_pct(measured)
    band = c.constants.measured_utilisation_band_pct_points
    return Band(m.clamp_pct(value - band), value, m.clamp_pct(value + band)), True


def processor_kwh(power: PowerModel, utilisation: Band, unit_hours: Band, pue: float, multiplier: float) -> Band:
    """Energy of CPUs (or GPUs) with every input at its low, central and high end."""

    def kwh(watts: Watts, utilisation_pct: float, hours: float) -> float:
        return m.compute_kwh(watts.min_watts, watts.max_watts, utilisation_pct, hours, pue, multiplier)

    return Band.around(
        kwh(power.central, utilisation.central, unit_hours.central),
        kwh(power.low, utilisation.low, unit_hours.low),
        kwh(power.high, utilisation.high, unit_hours.high),
    )


def memory(c: Coefficients, gib_hours: float, multiplier: float) -> Band:
    k = c.constants
    central = m.memory_kwh(gib_hours, k.memory_kwh_per_gib_hour, k.pue, multiplier)
    return Band.around(
        central,
        m.memory_kwh(gib_hours, k.memory_kwh_per_gib_hour_low, k.pue, multiplier),
        m.memory_kwh(gib_hours, k.memory_kwh_per_gib_hour_high, k.pue, multiplier),
    )


def storage(c: Coefficients, storage_gb: float, hours: float, media: str, replication: float) -> Band:
    k = c.constants
    wh_per_tb_hour = k.ssd_wh_per_tb_hour if media == "ssd" else k.hdd_wh_per_tb_hour
    central = m.storage_kwh(storage_gb, hours, wh_per_tb_hour, replication, k.pue)
    band = k.storage_band_pct / 100.0
    return Band.exact(central).scaled(1.0 - band, 1.0 + band)


def class_storage(
    c: Coefficients, parts: Parts, service: str, storage_class: str | None, storage_gb: float, hours: float
) -> Band:
    """``storage_gb`` kept for ``hours`` on the media and replication of ``service``'s ``storage_class``
    (``storage-classes.csv``); a class the table does not know takes the service's default, flagged on ``parts``."""
    found, known = c.storage_class(service, storage_class)
    if not known:
        parts.flag(STORAGE_CLASS_UNKNOWN)
    return storage(c, storage_gb, hours, found.media, found.replication_factor)


def network(c: Coefficients, network_out_bytes: float) -> Band:
    k = c.constants
    central = m.network_kwh(network_out_bytes, k.network_kwh_per_gb, k.pue)
    return Band.exact(central).scaled(k.network_factor_low, k.network_factor_high)
