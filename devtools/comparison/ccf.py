"""Cloud Carbon Footprint's formula on CCF's own tables and values: a reference for the comparison only.

CCF's values come from CarbonMeter's data files, with ``data/ccf-reference.csv`` giving back CCF's values where
CarbonMeter corrected them. Where CCF's methodology is silent this follows CCF's code (commit ``b7a049c``); the one
place it departs on purpose is the CPU load: CCF's billing-data path fixes it at 50 %, this takes the row's
measured load, as CCF's methodology does where utilisation is measured (``docs/comparison.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, InstanceType, load_coefficients, rows
from carbonmeter.models import UsageRecord
from carbonmeter.services import ec2
from devtools.comparison.figures import Figures

CCF_REFERENCE_CSV = "ccf-reference.csv"
_GRID_FIELD = "tco2e_per_kwh"
_MICROARCHITECTURES_FIELD = "microarchitectures"


@dataclass(frozen=True)
class CcfConstants:
    """CCF's constants for AWS (the same values CarbonMeter keeps in ``constants.json``)."""

    pue: float
    memory_kwh_per_gib_hour: float
    server_life_hours: float
    replication_factor: float = 1.0
    # CCF's code runs GPUs at AVG_CPU_UTILIZATION_2020 whatever the CPU does (AWSComputeEstimatesBuilder).
    gpu_utilisation_pct: float = 50.0

    @classmethod
    def of(cls, c: Coefficients) -> CcfConstants:
        k = c.constants
        return cls(k.pue, k.memory_kwh_per_gib_hour, k.server_life_hours, gpu_utilisation_pct=k.default_utilisation_pct)


@dataclass(frozen=True)
class CcfInputs:
    """One instance-hour as CCF's formula sees it, read from CCF's tables by ``ccf_inputs``."""

    hours: float
    vcpus: float  # after CCF's burstable scaling
    min_watts: float  # per vCPU
    max_watts: float
    memory_gib_hours: float  # above the processors' per-chip baseline; 0 where CCF counts no memory
    gpus: float = 0.0
    gpu_min_watts: float = 0.0
    gpu_max_watts: float = 0.0
    host_embodied_tco2e: float = 0.0  # 0: CCF has no embodied figure for the type
    instance_vcpus: float = 0.0
    host_vcpus: float = 0.0
    grid_tco2e_per_kwh: float = 0.0
    notes: tuple[str, ...] = ()


def ccf_formula(inputs: CcfInputs, utilisation_pct: float, constants: CcfConstants) -> Figures:
    """Cloud Carbon Footprint's published formula for one instance (a reference, not CarbonMeter's method).

    compute (kWh)  = vCPU-hours x (min + u x (max - min)) W / 1000, and GPU-hours likewise with the GPU's watts
                     at CCF's fixed GPU load (50 %), not at ``utilisation_pct``
    memory (kWh)   = GB-hours above the per-chip baseline x 0.000392 kWh/GB-hour
    energy         = (compute + memory) x PUE x replication factor
    operational    = energy x the region's grid factor
    embodied       = host embodied x hours / server life (35,040 h) x instance vCPUs / host vCPUs

    Embodied follows CCF's methodology document. CCF's code divides the hours by the vCPUs first and adds embodied
    CO2e, converted back to kWh, to the energy; those are defects and are not reproduced here.
    """
    k = constants
    cpu = m.compute_kwh(
        inputs.min_watts, inputs.max_watts, utilisation_pct, inputs.vcpus * inputs.hours, k.pue, k.replication_factor
    )
    gpu = m.compute_kwh(
        inputs.gpu_min_watts,
        inputs.gpu_max_watts,
        k.gpu_utilisation_pct,
        inputs.gpus * inputs.hours,
        k.pue,
        k.replication_factor,
    )
    memory = m.memory_kwh(inputs.memory_gib_hours, k.memory_kwh_per_gib_hour, k.pue, k.replication_factor)
    energy = cpu + gpu + memory
    grid_kg = inputs.grid_tco2e_per_kwh * m.KG_PER_TONNE
    embodied = m.embodied_kgco2e(
        inputs.host_embodied_tco2e, inputs.hours, k.server_life_hours, inputs.instance_vcpus, inputs.host_vcpus
    )
    return Figures(energy, m.operational_co2e(energy, grid_kg), embodied, grid_kg, inputs.notes)


@dataclass(frozen=True)
class CcfReference:
    """CCF's own values where CarbonMeter's data files differ (``data/ccf-reference.csv``)."""

    values: Mapping[tuple[str, str], str]

    def instance_type(self, c: Coefficients, name: str) -> tuple[InstanceType | None, tuple[str, ...]]:
        """CCF's row for ``name`` (None: not in CCF's table), and the fields put back to CCF's values."""
        spec = c.instance_type(name)
        if spec is None:
            return None, ()
        fields = {field: value for (key, field), value in self.values.items() if key == name}
        changes = {field: _typed(field, value) for field, value in fields.items()}
        return replace(spec, **changes), tuple(sorted(fields))

    def grid_tco2e_per_kwh(self, c: Coefficients, region: str) -> float:
        value = self.values.get((region, _GRID_FIELD))
        return float(value) if value is not None else c.grid_factor(region)[0]


def _typed(field: str, value: str) -> Any:
    # Any: the fields differ in type (a tuple of processor names, or a number), and replace() takes them by name.
    if field == _MICROARCHITECTURES_FIELD:
        return tuple(part.strip() for part in value.split(";") if part.strip())
    return float(value)


@cache
def ccf_reference() -> CcfReference:
    """The bundled ``ccf-reference.csv``, parsed once."""
    return CcfReference({(row["key"], row["field"]): row["ccf_value"] for row in rows(CCF_REFERENCE_CSV)})


# Notes on the CCF figures, shown in the tables and used to name causes.
CCF_NOT_IN_TABLE = "not in CCF's table: CPU averages 0.74/3.5 W, no memory, GPU or embodied"
CCF_CPU_AVERAGES = "CPU without CCF coefficients: averages 0.74/3.5 W"
CCF_BURSTABLE = "burstable: vCPUs x baseline/50, no memory"


def ccf_uncorrected(field: str) -> str:
    return f"CCF's uncorrected {field}"


def ccf_inputs(usage: UsageRecord, c: Coefficients, reference: CcfReference) -> CcfInputs:
    """What CCF's own tables give for an EC2 usage record (CCF's rules where its methodology has a gap)."""
    spec, uncorrected = reference.instance_type(c, usage.resource_type)
    grid = reference.grid_tco2e_per_kwh(c, usage.region)
    k = c.constants
    if spec is None:
        # CCF still prices the vCPU-hours its billing data reports, at its AWS averages; its memory, GPU and
        # embodied look-ups find nothing and add nothing.
        return CcfInputs(
            hours=usage.hours,
            vcpus=ec2.SLICE.details_of(usage).vcpus or 0.0,
            min_watts=k.unknown_min_watts,
            max_watts=k.unknown_max_watts,
            memory_gib_hours=0.0,
            grid_tco2e_per_kwh=grid,
            notes=(CCF_NOT_IN_TABLE,),
        )
    notes = [ccf_uncorrected(field) for field in uncorrected]
    watts = c.cpu_watts(spec.microarchitectures)
    if not watts.known:
        notes.append(CCF_CPU_AVERAGES)
    vcpus, memory = spec.vcpus, _ccf_memory_gib_hours(c, spec, usage.hours)
    if spec.burstable_baseline_pct is not None:
        # CCF always scales burstable vCPUs (its AWS estimate never has a measured load) and counts no memory.
        vcpus = m.burstable_vcpus(spec.vcpus, spec.burstable_baseline_pct, k.burstable_reference_pct)
        memory = 0.0
        notes.append(CCF_BURSTABLE)
    gpu = c.gpu_watts(spec.gpu_model) if spec.gpus else None
    return CcfInputs(
        hours=usage.hours,
        vcpus=vcpus,
        min_watts=watts.min_watts,
        max_watts=watts.max_watts,
        memory_gib_hours=memory,
        gpus=float(spec.gpus) if gpu else 0.0,
        gpu_min_watts=gpu.min_watts if gpu else 0.0,
        gpu_max_watts=gpu.max_watts if gpu else 0.0,
        host_embodied_tco2e=spec.host_embodied_tco2e,
        instance_vcpus=spec.vcpus,
        host_vcpus=spec.host_vcpus,
        grid_tco2e_per_kwh=grid,
        notes=tuple(notes),
    )


def _ccf_memory_gib_hours(c: Coefficients, spec: InstanceType, hours: float) -> float:
    baseline = c.memory_gib_per_chip(spec.microarchitectures)
    return m.excess_memory_gib_hours(spec.memory_gib, spec.host_memory_gib, c.chips(spec), baseline, hours)


def ccf_figures(usage: UsageRecord, c: Coefficients | None = None) -> Figures:
    """CCF's figures for an EC2 usage record at its measured load (50 %, CCF's default, without one)."""
    c = c or load_coefficients()
    measured = ec2.SLICE.details_of(usage).cpu_utilization_pct
    load = measured if measured is not None else c.constants.default_utilisation_pct
    return ccf_formula(ccf_inputs(usage, c, ccf_reference()), load, CcfConstants.of(c))
