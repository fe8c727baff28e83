"""Compute, GPU, memory and embodied emissions of a virtual machine: an EC2 instance, or the host of a database.

Shared by every slice whose resources run on EC2 instance types (EC2 and RDS today).
"""

from __future__ import annotations

from dataclasses import dataclass

from carbonmeter.emissions import hardware, hosts
from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, EmbodiedHost, InstanceType
from carbonmeter.emissions.hardware import GPU_MODEL_UNKNOWN, PowerModel
from carbonmeter.emissions.parts import (
    BURSTABLE_BASELINE_SCALING,
    BURSTABLE_BASELINE_UNKNOWN,
    CAPACITY_UNKNOWN,
    GPU_UTILISATION_DEFAULT,
    INSTANCE_TYPE_NOT_IN_DATA,
    Parts,
    memory,
    processor_kwh,
    utilisation,
)
from carbonmeter.emissions.uncertainty import ZERO, Band


@dataclass(frozen=True)
class Machine:
    """One virtual machine-hour as the estimate sees it, whichever service runs it.

    ``multiplier`` counts identical copies running at once (an RDS Multi-AZ standby); ``sized`` is False for a
    class with no instance type behind it (Aurora Serverless v2), which is then not flagged as missing from data.
    """

    type_name: str
    hours: float
    vcpus: float | None
    memory_gib: float | None
    cpu_utilization_pct: float | None
    cpu_manufacturer: str | None = None
    burstable: bool = False
    gpus: float | None = None
    gpu_model: str | None = None
    multiplier: float = 1.0
    sized: bool = True


def add_instance(parts: Parts, vm: Machine, c: Coefficients) -> None:
    """Compute, GPU, memory and embodied emissions of ``vm`` into ``parts``."""
    shape = _shape(vm, c)
    for flag in shape.leading_flags:
        parts.flag(flag)
    if shape.vcpus is None or shape.power is None:
        return
    load, measured = utilisation(vm.cpu_utilization_pct, c, parts)
    active_vcpus = _active_vcpus(parts, vm, shape.spec, shape.vcpus, measured, c)
    parts.compute = processor_kwh(shape.power, load, active_vcpus.times(vm.hours), c.constants.pue, vm.multiplier)
    parts.compute = parts.compute + shape.gpu
    for flag in shape.trailing_flags:
        parts.flag(flag)
    if shape.memory is not None:
        parts.memory = shape.memory
    parts.embodied = shape.embodied


@dataclass(frozen=True)
class _Shape:
    """What a machine-hour's figures owe to its type and size alone, whatever its utilisation.

    ``leading_flags`` come before the utilisation's flags in a record, ``trailing_flags`` after them. No ``vcpus``
    (or no ``power``): the capacity is unknown, and the machine adds nothing but its leading flags.
    """

    spec: InstanceType | None
    vcpus: float | None
    leading_flags: tuple[str, ...]
    power: PowerModel | None = None
    gpu: Band = ZERO
    memory: Band | None = None
    embodied: Band = ZERO
    trailing_flags: tuple[str, ...] = ()


def _shape(vm: Machine, c: Coefficients) -> _Shape:
    """``vm``'s shape, worked out once per type and size for a set of coefficients (``Coefficients.memo``).

    Only for a whole hour: a fleet has few shapes and many machine-hours of each, but a resource that started or
    stopped within the hour runs for its own fraction of it, and a memo keyed on those would only grow.
    """
    if vm.hours != 1.0:
        return _shape_of(vm, c)
    key = (
        "machine",
        vm.type_name,
        vm.vcpus,
        vm.memory_gib,
        vm.cpu_manufacturer,
        vm.gpus,
        vm.gpu_model,
        vm.multiplier,
        vm.sized,
    )
    found: _Shape | None = c.memo.get(key)
    if found is None:
        found = c.memo[key] = _shape_of(vm, c)
    return found


def _shape_of(vm: Machine, c: Coefficients) -> _Shape:
    spec = c.instance_type(vm.type_name)
    leading = Parts()
    if spec is None and vm.sized:
        leading.flag(INSTANCE_TYPE_NOT_IN_DATA)
    vcpus = vm.vcpus
    if vcpus is None and spec is not None:
        vcpus = spec.vcpus
    if vcpus is None or vcpus <= 0:
        leading.flag(CAPACITY_UNKNOWN)
        return _Shape(spec=spec, vcpus=None, leading_flags=tuple(leading.flags))
    power = hardware.cpu_power(c, spec, vm.type_name, vm.cpu_manufacturer)
    for flag in power.flags:
        leading.flag(flag)

    trailing = Parts()
    gpu = _gpu_kwh(trailing, vm, c, spec)
    memory_band = _memory(trailing, vm, c, spec, power, vcpus)
    gpus = _gpus(vm, spec)
    if spec is not None:
        embodied = _embodied(c, c.embodied_host(spec), vcpus, gpus, vm.hours)
    else:
        host, flag = hosts.embodied_host(c, vm.type_name, vm.cpu_manufacturer)
        trailing.flag(flag)
        embodied = _fallback_embodied(c, host, vcpus, gpus, vm.hours)
    return _Shape(
        spec=spec,
        vcpus=vcpus,
        leading_flags=tuple(leading.flags),
        power=power,
        gpu=gpu,
        memory=memory_band,
        embodied=embodied.times(vm.multiplier),
        trailing_flags=tuple(trailing.flags),
    )


def _memory(
    parts: Parts, vm: Machine, c: Coefficients, spec: InstanceType | None, power: PowerModel, vcpus: float
) -> Band | None:
    memory_gib = vm.memory_gib
    if memory_gib is None and spec is not None:
        memory_gib = spec.memory_gib
    if memory_gib is None:
        parts.flag(CAPACITY_UNKNOWN)
        return None
    gib_hours = _memory_gib_hours(c, spec, power, memory_gib, vcpus, vm.hours)
    return memory(c, gib_hours, vm.multiplier)


def _active_vcpus(
    parts: Parts, vm: Machine, spec: InstanceType | None, vcpus: float, measured: bool, c: Coefficients
) -> Band:
    """vCPUs drawing power: all of them, except CCF's baseline scaling of an unmeasured burstable type."""
    baseline = spec.burstable_baseline_pct if spec else None
    if baseline is not None and not measured:
        # Only without a measurement: a measured CPUUtilization already reflects credit throttling. The high
        # bound lets every vCPU run flat out, as unlimited mode allows.
        parts.flag(BURSTABLE_BASELINE_SCALING)
        scaled = m.burstable_vcpus(vcpus, baseline, c.constants.burstable_reference_pct)
        return Band(scaled, scaled, vcpus)
    if vm.burstable and baseline is None and not measured:
        parts.flag(BURSTABLE_BASELINE_UNKNOWN)
    return Band.exact(vcpus)


def _gpus(vm: Machine, spec: InstanceType | None) -> float:
    """GPUs of the instance: DescribeInstanceTypes' count (fractional for g6f) when collected, else the table's."""
    return vm.gpus if vm.gpus is not None else float(spec.gpus if spec else 0)


def _gpu_kwh(parts: Parts, vm: Machine, c: Coefficients, spec: InstanceType | None) -> Band:
    gpus = _gpus(vm, spec)
    if not gpus:
        return ZERO
    power = hardware.gpu_power(c, spec, vm.gpu_model)
    if power is None:
        parts.flag(GPU_MODEL_UNKNOWN)
        return ZERO
    for flag in power.flags:
        parts.flag(flag)
    # CloudWatch has no GPU utilisation without an agent, so GPUs always use the default, bounded by idle and full.
    parts.flag(GPU_UTILISATION_DEFAULT)
    k = c.constants
    load = Band(0.0, k.default_utilisation_pct, 100.0)
    return processor_kwh(power, load, Band.exact(gpus * vm.hours), k.pue, vm.multiplier)


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
