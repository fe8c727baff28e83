"""Turn one hour of a resource's usage into energy and carbon, and roll the results up per service.

Every figure is carried as a low / central / high band (``uncertainty.Band``); the record's flat fields are the
central figures and its ``*_range`` fields the bounds. ``docs/methodology.md`` gives the rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from carbonmeter.emissions import hardware, hosts
from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, EmbodiedHost, InstanceType, Watts, load_coefficients
from carbonmeter.emissions.hardware import GPU_MODEL_UNKNOWN, MICROARCHITECTURE_UNKNOWN, PowerModel
from carbonmeter.emissions.uncertainty import ZERO, Band, total
from carbonmeter.models import EmissionRecord, Range, Rollup, Service, UsageRecord

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
__all__ = ["GPU_MODEL_UNKNOWN", "MICROARCHITECTURE_UNKNOWN", "estimate", "estimate_all", "rollup"]

_MIB_PER_GIB = 1024.0
_AURORA_SERVERLESS_CLASS = "db.serverless"


@dataclass
class _Parts:
    compute: Band = ZERO
    memory: Band = ZERO
    storage: Band = ZERO
    network: Band = ZERO
    embodied: Band = ZERO
    flags: list[str] = field(default_factory=list)

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


def estimate(usage: UsageRecord, coefficients: Coefficients | None = None) -> EmissionRecord:
    """Energy (kWh, PUE included), operational and embodied kg CO2e of one usage record, with their bounds."""
    c = coefficients or load_coefficients()
    k = c.constants
    parts = _ESTIMATORS[usage.service](usage, c)
    parts.network = _network(usage, c)
    grid_t_per_kwh, own_factor = c.grid_factor(usage.region)
    if not own_factor:
        parts.flag(REGION_GRID_FACTOR_FALLBACK)
    grid_kg_per_kwh = grid_t_per_kwh * m.KG_PER_TONNE
    grid_low_t, grid_high_t = c.grid_factor_bounds(usage.region)

    # The parts use the central PUE; the energy bounds take AWS's best site and the industry average.
    energy = total((parts.compute, parts.memory, parts.storage, parts.network)).scaled(
        k.pue_low / k.pue, k.pue_high / k.pue
    )
    operational = Band.around(
        m.operational_co2e(energy.central, grid_kg_per_kwh),
        m.operational_co2e(energy.low, grid_low_t * m.KG_PER_TONNE),
        m.operational_co2e(energy.high, grid_high_t * m.KG_PER_TONNE),
    )
    return EmissionRecord.for_usage(
        usage,
        compute_kwh=parts.compute.central,
        memory_kwh=parts.memory.central,
        storage_kwh=parts.storage.central,
        network_kwh=parts.network.central,
        operational_kgco2e=operational.central,
        embodied_kgco2e=parts.embodied.central,
        grid_kgco2e_per_kwh=grid_kg_per_kwh,
        methodology_version=m.METHODOLOGY_VERSION,
        flags=tuple(parts.flags),
        energy_kwh_range=energy.as_range(),
        operational_kgco2e_range=operational.as_range(),
        embodied_kgco2e_range=parts.embodied.as_range(),
    )


def estimate_all(usages: Iterable[UsageRecord], coefficients: Coefficients | None = None) -> list[EmissionRecord]:
    c = coefficients or load_coefficients()
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
        energy_kwh_range=_summed_range([(r.energy_kwh, r.energy_kwh_range) for r in records]),
        operational_kgco2e_range=_summed_range([(r.operational_kgco2e, r.operational_kgco2e_range) for r in records]),
        embodied_kgco2e_range=_summed_range([(r.embodied_kgco2e, r.embodied_kgco2e_range) for r in records]),
    )


def _summed_range(values: list[tuple[float, Range | None]]) -> Range | None:
    if all(bounds is None for _, bounds in values):
        return None
    return Range(
        low=math.fsum(bounds.low if bounds else central for central, bounds in values),
        high=math.fsum(bounds.high if bounds else central for central, bounds in values),
    )


# --- per service -------------------------------------------------------------------------------------------


def _ec2(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    _add_instance(parts, usage, c, usage.resource_type, usage.vcpus, usage.memory_gib, multiplier=1.0)
    return parts


def _ebs(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    name = usage.resource_type if (Service.EBS.value, usage.resource_type) in c.storage_classes else usage.storage_type
    storage_class, known = c.storage_class(Service.EBS.value, name)
    if not known:
        parts.flag(STORAGE_CLASS_UNKNOWN)
    parts.storage = _storage(usage, c, storage_class.media, storage_class.replication_factor)
    return parts


def _s3(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    storage_class, known = c.storage_class(Service.S3.value, usage.resource_type)
    if not known:
        parts.flag(STORAGE_CLASS_UNKNOWN)
    parts.storage = _storage(usage, c, storage_class.media, storage_class.replication_factor)
    return parts


def _rds(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    k = c.constants
    aurora = (usage.engine or "").lower().startswith("aurora")
    # An Aurora replica is its own DB instance (and its own record); only classic Multi-AZ hides a standby.
    standby = usage.multi_az and not aurora
    multiplier = k.replication_rds_multi_az if standby else 1.0
    vcpus = usage.vcpus if usage.vcpus is not None else c.rds_vcpus.get(usage.resource_type)
    memory_gib = usage.memory_gib
    if usage.resource_type == _AURORA_SERVERLESS_CLASS and usage.capacity_units is not None and vcpus is None:
        # Serverless v2 has no instance type: its measured capacity (ACUs) stands in for one.
        parts.flag(AURORA_SERVERLESS_ACU)
        vcpus = usage.capacity_units * k.aurora_acu_vcpus
        memory_gib = usage.capacity_units * k.aurora_acu_memory_gib
    _add_instance(parts, usage, c, usage.resource_type.removeprefix("db."), vcpus, memory_gib, multiplier)

    if usage.storage_gb > 0:
        storage_class, known = c.storage_class(Service.RDS.value, usage.storage_type or ("aurora" if aurora else None))
        if not known:
            parts.flag(STORAGE_CLASS_UNKNOWN)
        replication = k.replication_aurora_storage if aurora else storage_class.replication_factor * multiplier
        parts.storage = _storage(usage, c, storage_class.media, replication)
    return parts


def _lambda(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    if not usage.memory_mb:
        parts.flag(CAPACITY_UNKNOWN)
        return parts
    k = c.constants
    if (usage.architecture or "x86_64").lower() == "arm64":
        power = hardware.microarchitectures_power(c, (k.lambda_arm64_processor,))
    else:
        # The x86 Lambda fleet's processors are not published: CCF's averages, bounded by the whole data.
        power = hardware.unknown_cpu_power(c)
    for flag in power.flags:
        parts.flag(flag)
    utilisation, _ = _utilisation(usage, c, parts)
    vcpu_hours = m.lambda_vcpu_hours(usage.duration_ms, usage.memory_mb, k.lambda_mb_per_vcpu)
    parts.compute = _processor_kwh(power, utilisation, Band.exact(vcpu_hours), k.pue, 1.0)
    memory_gib_hours = usage.memory_mb / _MIB_PER_GIB * usage.duration_ms / m.MS_PER_HOUR
    excess = m.excess_memory_gib_hours_by_density(
        memory_gib_hours, vcpu_hours, k.vcpus_per_chip, power.memory_gib_per_chip
    )
    parts.memory = _memory(c, excess, 1.0)
    return parts


_ESTIMATORS: dict[Service, Callable[[UsageRecord, Coefficients], _Parts]] = {
    Service.EC2: _ec2,
    Service.EBS: _ebs,
    Service.S3: _s3,
    Service.RDS: _rds,
    Service.LAMBDA: _lambda,
}


# --- shared pieces -----------------------------------------------------------------------------------------


def _utilisation(usage: UsageRecord, c: Coefficients, parts: _Parts) -> tuple[Band, bool]:
    """CPU utilisation in percent, and whether it was measured.

    Measured: the hour's average +- the band. Not measured: the default (flagged), bounded by idle and full load.
    """
    measured = usage.cpu_utilization_pct
    if measured is None or math.isnan(measured):
        parts.flag(UTILISATION_DEFAULT)
        return Band(0.0, c.constants.default_utilisation_pct, 100.0), False
    value = m.clamp_pct(measured)
    band = c.constants.measured_utilisation_band_pct_points
    return Band(m.clamp_pct(value - band), value, m.clamp_pct(value + band)), True


def _processor_kwh(power: PowerModel, utilisation: Band, unit_hours: Band, pue: float, multiplier: float) -> Band:
    """Energy of CPUs (or GPUs) with every input at its low, central and high end."""

    def kwh(watts: Watts, utilisation_pct: float, hours: float) -> float:
        return m.compute_kwh(watts.min_watts, watts.max_watts, utilisation_pct, hours, pue, multiplier)

    return Band.around(
        kwh(power.central, utilisation.central, unit_hours.central),
        kwh(power.low, utilisation.low, unit_hours.low),
        kwh(power.high, utilisation.high, unit_hours.high),
    )


def _memory(c: Coefficients, gib_hours: float, multiplier: float) -> Band:
    k = c.constants
    central = m.memory_kwh(gib_hours, k.memory_kwh_per_gib_hour, k.pue, multiplier)
    return Band.around(
        central,
        m.memory_kwh(gib_hours, k.memory_kwh_per_gib_hour_low, k.pue, multiplier),
        m.memory_kwh(gib_hours, k.memory_kwh_per_gib_hour_high, k.pue, multiplier),
    )


def _storage(usage: UsageRecord, c: Coefficients, media: str, replication: float) -> Band:
    k = c.constants
    wh_per_tb_hour = k.ssd_wh_per_tb_hour if media == "ssd" else k.hdd_wh_per_tb_hour
    central = m.storage_kwh(usage.storage_gb, usage.hours, wh_per_tb_hour, replication, k.pue)
    band = k.storage_band_pct / 100.0
    return Band.exact(central).scaled(1.0 - band, 1.0 + band)


def _network(usage: UsageRecord, c: Coefficients) -> Band:
    k = c.constants
    central = m.network_kwh(usage.network_out_bytes, k.network_kwh_per_gb, k.pue)
    return Band.exact(central).scaled(k.network_factor_low, k.network_factor_high)


def _add_instance(
    parts: _Parts,
    usage: UsageRecord,
    c: Coefficients,
    type_name: str,
    vcpus: float | None,
    memory_gib: float | None,
    multiplier: float,
) -> None:
    """Compute, GPU, memory and embodied emissions of a virtual machine (EC2, or the host of an RDS instance).

    ``multiplier`` counts identical copies running at once (an RDS Multi-AZ standby).
    """
    spec = c.instance_type(type_name)
    if spec is None and usage.resource_type != _AURORA_SERVERLESS_CLASS:
        parts.flag(INSTANCE_TYPE_NOT_IN_DATA)
    if vcpus is None and spec is not None:
        vcpus = spec.vcpus
    if vcpus is None or vcpus <= 0:
        parts.flag(CAPACITY_UNKNOWN)
        return
    if memory_gib is None and spec is not None:
        memory_gib = spec.memory_gib
    k = c.constants
    hours = usage.hours

    power = hardware.cpu_power(c, spec, type_name, usage.cpu_manufacturer)
    for flag in power.flags:
        parts.flag(flag)
    utilisation, measured = _utilisation(usage, c, parts)
    active_vcpus = _active_vcpus(parts, usage, spec, vcpus, measured, c)
    parts.compute = _processor_kwh(power, utilisation, active_vcpus.times(hours), k.pue, multiplier)
    parts.compute = parts.compute + _gpu_kwh(parts, usage, c, spec, multiplier)

    if memory_gib is None:
        parts.flag(CAPACITY_UNKNOWN)
    else:
        gib_hours = _memory_gib_hours(c, spec, power, memory_gib, vcpus, hours)
        parts.memory = _memory(c, gib_hours, multiplier)

    gpus = _gpus(usage, spec)
    if spec is not None:
        parts.embodied = _embodied(c, c.embodied_host(spec), vcpus, gpus, hours)
    else:
        host, flag = hosts.embodied_host(c, type_name, usage.cpu_manufacturer)
        parts.flag(flag)
        parts.embodied = _fallback_embodied(c, host, vcpus, gpus, hours)
    parts.embodied = parts.embodied.times(multiplier)


def _active_vcpus(
    parts: _Parts, usage: UsageRecord, spec: InstanceType | None, vcpus: float, measured: bool, c: Coefficients
) -> Band:
    """vCPUs drawing power: all of them, except CCF's baseline scaling of an unmeasured burstable type."""
    baseline = spec.burstable_baseline_pct if spec else None
    if baseline is not None and not measured:
        # Only without a measurement: a measured CPUUtilization already reflects credit throttling. The high
        # bound lets every vCPU run flat out, as unlimited mode allows.
        parts.flag(BURSTABLE_BASELINE_SCALING)
        scaled = m.burstable_vcpus(vcpus, baseline, c.constants.burstable_reference_pct)
        return Band(scaled, scaled, vcpus)
    if usage.burstable and baseline is None and not measured:
        parts.flag(BURSTABLE_BASELINE_UNKNOWN)
    return Band.exact(vcpus)


def _gpus(usage: UsageRecord, spec: InstanceType | None) -> float:
    """GPUs of the instance: DescribeInstanceTypes' count (fractional for g6f) when collected, else the table's."""
    return usage.gpus if usage.gpus is not None else float(spec.gpus if spec else 0)


def _gpu_kwh(parts: _Parts, usage: UsageRecord, c: Coefficients, spec: InstanceType | None, multiplier: float) -> Band:
    gpus = _gpus(usage, spec)
    if not gpus:
        return ZERO
    power = hardware.gpu_power(c, spec, usage.gpu_model)
    if power is None:
        parts.flag(GPU_MODEL_UNKNOWN)
        return ZERO
    for flag in power.flags:
        parts.flag(flag)
    # CloudWatch has no GPU utilisation without an agent, so GPUs always use the default, bounded by idle and full.
    parts.flag(GPU_UTILISATION_DEFAULT)
    k = c.constants
    utilisation = Band(0.0, k.default_utilisation_pct, 100.0)
    return _processor_kwh(power, utilisation, Band.exact(gpus * usage.hours), k.pue, multiplier)


def _memory_gib_hours(
    c: Coefficients, spec: InstanceType | None, power: PowerModel, memory_gib: float, vcpus: float, hours: float
) -> float:
    if spec is None:
        return m.excess_memory_gib_hours_by_density(
            memory_gib * hours, vcpus * hours, c.constants.vcpus_per_chip, power.memory_gib_per_chip
        )
    return m.excess_memory_gib_hours(memory_gib, spec.host_memory_gib, c.chips(spec), power.memory_gib_per_chip, hours)


def _embodied(c: Coefficients, host: EmbodiedHost, vcpus: float, gpus: float, hours: float) -> Band:
    """Embodied kg CO2e of a type in the data: its share of the host, bounded by a longer life and the band."""
    k = c.constants
    band = k.embodied_manufacturing_band_pct / 100.0
    longer_life = k.server_life_hours / k.server_life_hours_long
    central = m.embodied_kgco2e(host.embodied_tco2e, hours, k.server_life_hours, vcpus, host.vcpus, gpus, host.gpus)
    return Band.around(central, central * longer_life * (1.0 - band), central * (1.0 + band))


def _fallback_embodied(c: Coefficients, host: EmbodiedHost | None, vcpus: float, gpus: float, hours: float) -> Band:
    """Embodied kg CO2e of a type missing from the data, on its sibling family's host or the median family.

    The type's size is not known to fit the sibling's host, so it is charged per vCPU (or per GPU, the larger)
    as if it used a host of its own size whole. Whichever rule chose the figure, the bounds span the families'
    10th-90th percentile per vCPU as well: a sibling is a guess about the host, not knowledge of it.
    """
    k = c.constants
    life = k.server_life_hours
    band = k.embodied_manufacturing_band_pct / 100.0
    per_vcpu = host.tco2e_per_vcpu if host else c.median_host_embodied_tco2e_per_vcpu
    per_gpu = host.tco2e_per_gpu if host else None
    host_tco2e = max(per_vcpu * vcpus, (per_gpu or 0.0) * gpus)

    def whole(tco2e: float) -> float:
        return m.embodied_kgco2e(tco2e, hours, life, vcpus, vcpus)

    central = whole(host_tco2e)
    per_vcpu_low, per_vcpu_high = c.host_embodied_tco2e_per_vcpu_extremes
    low = min(whole(per_vcpu_low * vcpus), central * (1.0 - band)) * life / k.server_life_hours_long
    return Band.around(central, low, max(whole(per_vcpu_high * vcpus), central * (1.0 + band)))
