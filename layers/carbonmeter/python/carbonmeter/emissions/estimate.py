"""Turn one hour of a resource's usage into energy and carbon, and roll the results up per service."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, InstanceType, Watts, load_coefficients
from carbonmeter.models import EmissionRecord, Rollup, Service, UsageRecord

# Flags: short, stable strings telling a reader which fallback shaped a figure.
UTILISATION_DEFAULT = "utilisation_default_50pct"
INSTANCE_TYPE_NOT_IN_DATA = "instance_type_not_in_data"
MICROARCHITECTURE_UNKNOWN = "microarchitecture_unknown"
REGION_GRID_FACTOR_FALLBACK = "region_grid_factor_fallback"
CAPACITY_UNKNOWN = "capacity_unknown"
BURSTABLE_BASELINE_SCALING = "burstable_baseline_scaling"
GPU_UTILISATION_DEFAULT = "gpu_utilisation_default_50pct"
GPU_MODEL_UNKNOWN = "gpu_model_unknown"
STORAGE_CLASS_UNKNOWN = "storage_class_unknown"

_MIB_PER_GIB = 1024.0


@dataclass
class _Parts:
    compute_kwh: float = 0.0
    memory_kwh: float = 0.0
    storage_kwh: float = 0.0
    network_kwh: float = 0.0
    embodied_kgco2e: float = 0.0
    flags: list[str] = field(default_factory=list)

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


def estimate(usage: UsageRecord, coefficients: Coefficients | None = None) -> EmissionRecord:
    """Energy (kWh, PUE included), operational and embodied kg CO2e of one usage record."""
    c = coefficients or load_coefficients()
    parts = _ESTIMATORS[usage.service](usage, c)
    parts.network_kwh += m.network_kwh(usage.network_out_bytes, c.constants.network_kwh_per_gb, c.constants.pue)
    grid_t_per_kwh, own_factor = c.grid_factor(usage.region)
    if not own_factor:
        parts.flag(REGION_GRID_FACTOR_FALLBACK)
    grid_kg_per_kwh = grid_t_per_kwh * m.KG_PER_TONNE
    energy_kwh = parts.compute_kwh + parts.memory_kwh + parts.storage_kwh + parts.network_kwh
    return EmissionRecord(
        connection_id=usage.connection_id,
        account_id=usage.account_id,
        hour=usage.hour,
        region=usage.region,
        service=usage.service,
        resource_id=usage.resource_id,
        resource_type=usage.resource_type,
        hours=usage.hours,
        compute_kwh=parts.compute_kwh,
        memory_kwh=parts.memory_kwh,
        storage_kwh=parts.storage_kwh,
        network_kwh=parts.network_kwh,
        operational_kgco2e=m.operational_co2e(energy_kwh, grid_kg_per_kwh),
        embodied_kgco2e=parts.embodied_kgco2e,
        grid_kgco2e_per_kwh=grid_kg_per_kwh,
        methodology_version=m.METHODOLOGY_VERSION,
        flags=tuple(parts.flags),
    )


def estimate_all(usages: Iterable[UsageRecord], coefficients: Coefficients | None = None) -> list[EmissionRecord]:
    c = coefficients or load_coefficients()
    return [estimate(usage, c) for usage in usages]


def rollup(records: Iterable[EmissionRecord]) -> list[Rollup]:
    """One total per (connection, hour, region, service), sorted by that key.

    ``resources`` counts distinct resource ids, so an S3 bucket with several storage classes counts once.
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
    )


# --- per service -------------------------------------------------------------------------------------------


def _ec2(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    _add_instance(parts, usage, c, usage.resource_type, usage.vcpus, multiplier=1.0)
    return parts


def _ebs(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    name = usage.resource_type if (Service.EBS.value, usage.resource_type) in c.storage_classes else usage.storage_type
    storage_class, known = c.storage_class(Service.EBS.value, name)
    if not known:
        parts.flag(STORAGE_CLASS_UNKNOWN)
    parts.storage_kwh = _storage_kwh(usage, c, storage_class.media, storage_class.replication_factor)
    return parts


def _s3(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    storage_class, known = c.storage_class(Service.S3.value, usage.resource_type)
    if not known:
        parts.flag(STORAGE_CLASS_UNKNOWN)
    parts.storage_kwh = _storage_kwh(usage, c, storage_class.media, storage_class.replication_factor)
    return parts


def _rds(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    aurora = (usage.engine or "").lower().startswith("aurora")
    # An Aurora replica is its own DB instance (and its own record); only classic Multi-AZ hides a standby.
    standby = usage.multi_az and not aurora
    multiplier = c.constants.replication_rds_multi_az if standby else 1.0
    vcpus = usage.vcpus if usage.vcpus is not None else c.rds_vcpus.get(usage.resource_type)
    _add_instance(parts, usage, c, usage.resource_type.removeprefix("db."), vcpus, multiplier)

    if usage.storage_gb > 0:
        storage_class, known = c.storage_class(Service.RDS.value, usage.storage_type or ("aurora" if aurora else None))
        if not known:
            parts.flag(STORAGE_CLASS_UNKNOWN)
        replication = (
            c.constants.replication_aurora_storage if aurora else storage_class.replication_factor * multiplier
        )
        parts.storage_kwh = _storage_kwh(usage, c, storage_class.media, replication)
    return parts


def _lambda(usage: UsageRecord, c: Coefficients) -> _Parts:
    parts = _Parts()
    if not usage.memory_mb:
        parts.flag(CAPACITY_UNKNOWN)
        return parts
    k = c.constants
    if (usage.architecture or "x86_64").lower() == "arm64":
        watts = c.cpu_watts((k.lambda_arm64_processor,))
        memory_per_chip = c.memory_gib_per_chip((k.lambda_arm64_processor,))
    else:
        watts = Watts(k.unknown_min_watts, k.unknown_max_watts, known=False)
        memory_per_chip = k.memory_gib_per_chip_fallback
    if not watts.known:
        parts.flag(MICROARCHITECTURE_UNKNOWN)
    utilisation, _ = _utilisation(usage, c, parts)
    vcpu_hours = m.lambda_vcpu_hours(usage.duration_ms, usage.memory_mb, k.lambda_mb_per_vcpu)
    parts.compute_kwh = m.compute_kwh(watts.min_watts, watts.max_watts, utilisation, vcpu_hours, k.pue)
    memory_gib_hours = usage.memory_mb / _MIB_PER_GIB * usage.duration_ms / m.MS_PER_HOUR
    excess = m.excess_memory_gib_hours_by_density(memory_gib_hours, vcpu_hours, k.vcpus_per_chip, memory_per_chip)
    parts.memory_kwh = m.memory_kwh(excess, k.memory_kwh_per_gib_hour, k.pue)
    return parts


_ESTIMATORS: dict[Service, Callable[[UsageRecord, Coefficients], _Parts]] = {
    Service.EC2: _ec2,
    Service.EBS: _ebs,
    Service.S3: _s3,
    Service.RDS: _rds,
    Service.LAMBDA: _lambda,
}


# --- shared pieces -----------------------------------------------------------------------------------------


def _utilisation(usage: UsageRecord, c: Coefficients, parts: _Parts) -> tuple[float, bool]:
    """CPU utilisation in percent, and whether it was measured (else the default, flagged)."""
    measured = usage.cpu_utilization_pct
    if measured is None or math.isnan(measured):
        parts.flag(UTILISATION_DEFAULT)
        return c.constants.default_utilisation_pct, False
    return m.clamp_pct(measured), True


def _storage_kwh(usage: UsageRecord, c: Coefficients, media: str, replication: float) -> float:
    k = c.constants
    wh_per_tb_hour = k.ssd_wh_per_tb_hour if media == "ssd" else k.hdd_wh_per_tb_hour
    return m.storage_kwh(usage.storage_gb, usage.hours, wh_per_tb_hour, replication, k.pue)


def _add_instance(
    parts: _Parts,
    usage: UsageRecord,
    c: Coefficients,
    type_name: str,
    vcpus: float | None,
    multiplier: float,
) -> None:
    """Compute, GPU, memory and embodied emissions of a virtual machine (EC2, or the host of an RDS instance).

    ``multiplier`` counts identical copies running at once (an RDS Multi-AZ standby).
    """
    spec = c.instance_type(type_name)
    if spec is None:
        parts.flag(INSTANCE_TYPE_NOT_IN_DATA)
    if vcpus is None and spec is not None:
        vcpus = spec.vcpus
    if vcpus is None or vcpus <= 0:
        parts.flag(CAPACITY_UNKNOWN)
        return
    memory_gib = usage.memory_gib if usage.memory_gib is not None else (spec.memory_gib if spec else None)
    k = c.constants
    hours = usage.hours

    watts = c.cpu_watts(spec.microarchitectures) if spec else Watts(k.unknown_min_watts, k.unknown_max_watts, False)
    if not watts.known:
        parts.flag(MICROARCHITECTURE_UNKNOWN)
    utilisation, measured = _utilisation(usage, c, parts)
    active_vcpus = vcpus
    if spec and spec.burstable_baseline_pct is not None and not measured:
        # Only without a measurement: a measured CPUUtilization already reflects credit throttling.
        active_vcpus = m.burstable_vcpus(vcpus, spec.burstable_baseline_pct, k.burstable_reference_pct)
        parts.flag(BURSTABLE_BASELINE_SCALING)
    parts.compute_kwh += m.compute_kwh(
        watts.min_watts, watts.max_watts, utilisation, active_vcpus * hours, k.pue, multiplier
    )
    parts.compute_kwh += _gpu_kwh(parts, usage, c, spec, multiplier)

    if memory_gib is None:
        parts.flag(CAPACITY_UNKNOWN)
    else:
        gib_hours = _memory_gib_hours(c, spec, memory_gib, vcpus, hours)
        parts.memory_kwh += m.memory_kwh(gib_hours, k.memory_kwh_per_gib_hour, k.pue, multiplier)

    parts.embodied_kgco2e += multiplier * _embodied_kgco2e(c, spec, vcpus, hours)


def _gpu_kwh(parts: _Parts, usage: UsageRecord, c: Coefficients, spec: InstanceType | None, multiplier: float) -> float:
    gpus = usage.gpus if usage.gpus is not None else (spec.gpus if spec else 0)
    if not gpus:
        return 0.0
    watts = c.gpu_watts(spec.gpu_model if spec else None)
    if watts is None:
        parts.flag(GPU_MODEL_UNKNOWN)
        return 0.0
    # CloudWatch has no GPU utilisation without an agent, so GPUs always use the default.
    parts.flag(GPU_UTILISATION_DEFAULT)
    k = c.constants
    return m.compute_kwh(
        watts.min_watts, watts.max_watts, k.default_utilisation_pct, gpus * usage.hours, k.pue, multiplier
    )


def _memory_gib_hours(
    c: Coefficients, spec: InstanceType | None, memory_gib: float, vcpus: float, hours: float
) -> float:
    if spec is None:
        k = c.constants
        return m.excess_memory_gib_hours_by_density(
            memory_gib * hours, vcpus * hours, k.vcpus_per_chip, k.memory_gib_per_chip_fallback
        )
    return m.excess_memory_gib_hours(
        memory_gib, spec.host_memory_gib, c.chips(spec), c.memory_gib_per_chip(spec.microarchitectures), hours
    )


def _embodied_kgco2e(c: Coefficients, spec: InstanceType | None, vcpus: float, hours: float) -> float:
    life = c.constants.server_life_hours
    if spec is None:
        # Unknown host: the average host's embodied per vCPU, i.e. a host of `vcpus` vCPUs used whole.
        return m.embodied_kgco2e(c.average_host_embodied_tco2e_per_vcpu * vcpus, hours, life, vcpus, vcpus)
    return m.embodied_kgco2e(spec.host_embodied_tco2e, hours, life, vcpus, spec.host_vcpus)
