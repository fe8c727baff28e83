"""Which power coefficients describe an instance's CPU and GPUs, and how sure we are of them.

The rule, in order (see ``docs/methodology.md``, "Processors"):

1. the type's own microarchitectures in ``ec2-instance-types.csv``;
2. else its family in ``processor-families.csv`` (AWS's instance-type documentation);
3. else the newest generation with coefficients of the manufacturer DescribeInstanceTypes reports;
4. a microarchitecture without SPECpower-derived coefficients takes its substitute from
   ``microarchitecture-substitutes.csv`` (nearest generation of the same vendor), with a wider band;
5. nothing left: CCF's AWS averages, with the whole span of the data as the band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from carbonmeter.emissions.coefficients import UNKNOWN_MICROARCHITECTURE, Coefficients, InstanceType, Watts

MICROARCHITECTURE_UNKNOWN = "microarchitecture_unknown"
GPU_MODEL_UNKNOWN = "gpu_model_unknown"


def microarchitecture_mapped(source: str, substitute: str) -> str:
    return f"microarchitecture_mapped:{source}->{substitute}"


def microarchitecture_from_manufacturer(manufacturer: str, substitute: str) -> str:
    return f"microarchitecture_from_manufacturer:{manufacturer}->{substitute}"


def gpu_coefficients_from_tdp(model: str) -> str:
    return f"gpu_coefficients_from_tdp:{model}"


@dataclass(frozen=True)
class PowerModel:
    """Idle and full-load watts per vCPU (or per GPU): the central pair and the pairs bounding it."""

    central: Watts
    low: Watts
    high: Watts
    memory_gib_per_chip: float
    flags: tuple[str, ...] = ()


def family_of(instance_type: str) -> str:
    """``m7i.large`` -> ``m7i``; ``u-6tb1.metal`` -> ``u-6tb1``."""
    return instance_type.split(".", 1)[0]


def cpu_power(c: Coefficients, spec: InstanceType | None, instance_type: str, manufacturer: str | None) -> PowerModel:
    """The CPU coefficients of an EC2 type (or the EC2 equivalent of an RDS class).

    Worked out once per type for a set of coefficients (``Coefficients.memo``): a fleet has few types and many
    records of each. A ``PowerModel`` is immutable, so every record may share it.
    """
    key = ("cpu_power", spec.name if spec else None, instance_type, manufacturer)
    found: PowerModel | None = c.memo.get(key)
    if found is None:
        found = c.memo[key] = _cpu_power(c, spec, instance_type, manufacturer)
    return found


def _cpu_power(c: Coefficients, spec: InstanceType | None, instance_type: str, manufacturer: str | None) -> PowerModel:
    names = [m for m in (spec.microarchitectures if spec else ()) if m != UNKNOWN_MICROARCHITECTURE]
    flags: list[str] = []
    if not names:
        family = c.processor_families.get(spec.family if spec else family_of(instance_type))
        if family is not None:
            names = list(family.microarchitectures)
    if not names and manufacturer in c.constants.manufacturer_default_microarchitecture:
        assert manufacturer is not None
        default = c.constants.manufacturer_default_microarchitecture[manufacturer]
        flags.append(microarchitecture_from_manufacturer(manufacturer, default))
        return _with_band(c, _known(c, [default], flags), c.constants.substituted_watts_band_pct)
    return microarchitectures_power(c, names, flags)


def microarchitectures_power(c: Coefficients, names: Sequence[str], flags: list[str] | None = None) -> PowerModel:
    """Coefficients of a list of microarchitectures, substituting those without coefficients (once per list)."""
    key = ("microarchitectures_power", tuple(names), tuple(flags or ()))
    found: PowerModel | None = c.memo.get(key)
    if found is None:
        found = c.memo[key] = _microarchitectures_power(c, names, flags)
    return found


def _microarchitectures_power(c: Coefficients, names: Sequence[str], flags: list[str] | None) -> PowerModel:
    flags = list(flags or ())
    resolved: list[str] = []
    substituted = False
    for name in names:
        if name in c.processors:
            resolved.append(name)
        elif name in c.substitutes:
            substitute = c.substitutes[name]
            resolved.append(substitute)
            flags.append(microarchitecture_mapped(name, substitute))
            substituted = True
    if not resolved:
        return unknown_cpu_power(c)
    model = _known(c, resolved, flags)
    return _with_band(c, model, c.constants.substituted_watts_band_pct) if substituted else model


def unknown_cpu_power(c: Coefficients) -> PowerModel:
    """CCF's AWS averages, bounded by the least and most power-hungry CPUs of the data (searched once)."""
    found: PowerModel | None = c.memo.get("unknown_cpu_power")
    if found is None:
        found = c.memo["unknown_cpu_power"] = _unknown_cpu_power(c)
    return found


def _unknown_cpu_power(c: Coefficients) -> PowerModel:
    k = c.constants
    low, high = c.cpu_watts_extremes()
    return PowerModel(
        central=Watts(k.unknown_min_watts, k.unknown_max_watts, known=False),
        low=low,
        high=high,
        memory_gib_per_chip=k.memory_gib_per_chip_fallback,
        flags=(MICROARCHITECTURE_UNKNOWN,),
    )


def gpu_power(c: Coefficients, spec: InstanceType | None, reported_model: str | None) -> PowerModel | None:
    """Per-GPU coefficients from the data's GPU model, else the reported model's entry in ``gpu-models.csv``.

    A model with a TDP but no coefficients gets watts scaled from the TDP by the ratios of the GPUs that have
    both; ``None`` when nothing is known (the caller flags it).
    """
    name = spec.gpu_model if spec and spec.gpu_model else None
    entry = c.gpu_models.get(reported_model or "") if name is None else None
    if entry is not None and entry.processor:
        name = entry.processor
    if name is not None:
        watts = c.gpu_watts(name)
        if watts is not None:
            return PowerModel(central=watts, low=watts, high=watts, memory_gib_per_chip=0.0)
        return None
    if entry is None or not entry.tdp_watts:
        return None
    idle_ratio, full_ratio = c.gpu_watts_per_tdp()
    watts = Watts(entry.tdp_watts * idle_ratio, entry.tdp_watts * full_ratio, known=True)
    model = PowerModel(
        central=watts,
        low=watts,
        high=watts,
        memory_gib_per_chip=0.0,
        flags=(gpu_coefficients_from_tdp(entry.api_name),),
    )
    return _with_band(c, model, c.constants.derived_gpu_watts_band_pct)


def _known(c: Coefficients, names: Sequence[str], flags: Sequence[str]) -> PowerModel:
    """Mean (or CCF's median) as the central pair; the lowest and highest of the list as the bounds."""
    processors = [c.processors[n] for n in names]
    return PowerModel(
        central=c.cpu_watts(names),
        low=Watts(min(p.min_watts for p in processors), min(p.max_watts for p in processors), known=True),
        high=Watts(max(p.min_watts for p in processors), max(p.max_watts for p in processors), known=True),
        memory_gib_per_chip=c.memory_gib_per_chip(names),
        flags=tuple(flags),
    )


def _with_band(c: Coefficients, model: PowerModel, band_pct: float) -> PowerModel:
    down, up = 1.0 - band_pct / 100.0, 1.0 + band_pct / 100.0
    return PowerModel(
        central=model.central,
        low=Watts(model.low.min_watts * down, model.low.max_watts * down, known=model.low.known),
        high=Watts(model.high.min_watts * up, model.high.max_watts * up, known=model.high.known),
        memory_gib_per_chip=model.memory_gib_per_chip,
        flags=model.flags,
    )
