"""The published coefficients of the methodology, loaded once from the CSV/JSON files in ``data/``.

Every number used by the estimator lives in those files (see ``data/SOURCES.md``); this module only
parses them into typed, read-only structures and answers look-ups such as "watts of these microarchitectures".
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

UNKNOWN_REGION = "unknown"
UNKNOWN_MICROARCHITECTURE = "Unknown"


@dataclass(frozen=True)
class Processor:
    name: str
    kind: str  # "cpu" or "gpu"
    min_watts: float
    max_watts: float
    memory_gib_per_chip: float | None
    manufacturer: str


@dataclass(frozen=True)
class InstanceType:
    """One EC2 instance type and the host (largest size of its family) it is carved from."""

    name: str
    family: str
    vcpus: float
    memory_gib: float
    host_vcpus: float
    host_memory_gib: float
    host_embodied_tco2e: float
    microarchitectures: tuple[str, ...]
    gpus: int
    gpu_model: str | None
    burstable_baseline_pct: float | None


@dataclass(frozen=True)
class EmbodiedHost:
    """A physical host whose manufacturing emissions its instances share: the figure, its vCPUs and its GPUs."""

    family: str
    embodied_tco2e: float
    vcpus: float
    gpus: float

    @property
    def tco2e_per_vcpu(self) -> float:
        return self.embodied_tco2e / self.vcpus

    @property
    def tco2e_per_gpu(self) -> float | None:
        return self.embodied_tco2e / self.gpus if self.gpus > 0 else None


@dataclass(frozen=True)
class StorageClass:
    service: str
    name: str
    media: str  # "ssd" or "hdd"
    replication_factor: float


@dataclass(frozen=True)
class ProcessorFamily:
    """Which CPU an instance family runs on, from AWS's instance-type documentation."""

    family: str
    manufacturer: str
    microarchitectures: tuple[str, ...]


@dataclass(frozen=True)
class GpuModel:
    """A GPU as DescribeInstanceTypes names it, its coefficients' name in processors.csv, and its TDP."""

    api_name: str
    processor: str | None
    tdp_watts: float | None


@dataclass(frozen=True)
class Watts:
    """Per-vCPU (or per-GPU) power at idle and at full load, and whether it came from the data."""

    min_watts: float
    max_watts: float
    known: bool


@dataclass(frozen=True)
class Constants:
    pue: float
    memory_kwh_per_gib_hour: float
    ssd_wh_per_tb_hour: float
    hdd_wh_per_tb_hour: float
    network_kwh_per_gb: float
    default_utilisation_pct: float
    unknown_min_watts: float
    unknown_max_watts: float
    median_microarchitectures: frozenset[str]
    memory_gib_per_chip_fallback: float
    vcpus_per_chip: float
    chips_by_family: Mapping[str, int]
    burstable_reference_pct: float
    lambda_mb_per_vcpu: float
    lambda_arm64_processor: str
    server_life_hours: float
    replication_rds_multi_az: float
    replication_aurora_storage: float
    default_storage_class: Mapping[str, str]
    manufacturer_default_microarchitecture: Mapping[str, str]
    measured_utilisation_band_pct_points: float
    substituted_watts_band_pct: float
    derived_gpu_watts_band_pct: float
    memory_kwh_per_gib_hour_low: float
    memory_kwh_per_gib_hour_high: float
    storage_band_pct: float
    network_factor_low: float
    network_factor_high: float
    pue_low: float
    pue_high: float
    server_life_hours_long: float
    embodied_manufacturing_band_pct: float
    aurora_acu_memory_gib: float
    aurora_acu_vcpus: float

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Constants:
        value = {name: entry["value"] for name, entry in document.items()}
        return cls(
            pue=float(value["pue"]),
            memory_kwh_per_gib_hour=float(value["memory_kwh_per_gib_hour"]),
            ssd_wh_per_tb_hour=float(value["ssd_wh_per_tb_hour"]),
            hdd_wh_per_tb_hour=float(value["hdd_wh_per_tb_hour"]),
            network_kwh_per_gb=float(value["network_kwh_per_gb"]),
            default_utilisation_pct=float(value["default_utilisation_pct"]),
            unknown_min_watts=float(value["unknown_min_watts"]),
            unknown_max_watts=float(value["unknown_max_watts"]),
            median_microarchitectures=frozenset(value["median_microarchitectures"]),
            memory_gib_per_chip_fallback=float(value["memory_gib_per_chip_fallback"]),
            vcpus_per_chip=float(value["vcpus_per_chip"]),
            chips_by_family=MappingProxyType({k: int(v) for k, v in value["chips_by_family"].items()}),
            burstable_reference_pct=float(value["burstable_reference_pct"]),
            lambda_mb_per_vcpu=float(value["lambda_mb_per_vcpu"]),
            lambda_arm64_processor=str(value["lambda_arm64_processor"]),
            server_life_hours=float(value["server_life_hours"]),
            replication_rds_multi_az=float(value["replication_rds_multi_az"]),
            replication_aurora_storage=float(value["replication_aurora_storage"]),
            default_storage_class=MappingProxyType(dict(value["default_storage_class"])),
            manufacturer_default_microarchitecture=MappingProxyType(
                dict(value["manufacturer_default_microarchitecture"])
            ),
            measured_utilisation_band_pct_points=float(value["measured_utilisation_band_pct_points"]),
            substituted_watts_band_pct=float(value["substituted_watts_band_pct"]),
            derived_gpu_watts_band_pct=float(value["derived_gpu_watts_band_pct"]),
            memory_kwh_per_gib_hour_low=float(value["memory_kwh_per_gib_hour_low"]),
            memory_kwh_per_gib_hour_high=float(value["memory_kwh_per_gib_hour_high"]),
            storage_band_pct=float(value["storage_band_pct"]),
            network_factor_low=float(value["network_factor_low"]),
            network_factor_high=float(value["network_factor_high"]),
            pue_low=float(value["pue_low"]),
            pue_high=float(value["pue_high"]),
            server_life_hours_long=float(value["server_life_hours_long"]),
            embodied_manufacturing_band_pct=float(value["embodied_manufacturing_band_pct"]),
            aurora_acu_memory_gib=float(value["aurora_acu_memory_gib"]),
            aurora_acu_vcpus=float(value["aurora_acu_vcpus"]),
        )


@dataclass(frozen=True)
class DeploymentChoices:
    """Coefficients a deployment chooses (``Settings``) where the published figures disagree; None: the data's."""

    # kWh per GB CloudFront delivers (edge and network); the default and its range: ``cloudfront-energy.csv``.
    cloudfront_kwh_per_gb: float | None = None


@dataclass(frozen=True)
class Coefficients:
    """Everything the estimator needs, read-only."""

    constants: Constants
    processors: Mapping[str, Processor]
    instance_types: Mapping[str, InstanceType]
    rds_vcpus: Mapping[str, float]
    grid_tco2e_per_kwh: Mapping[str, float]
    storage_classes: Mapping[tuple[str, str], StorageClass]
    median_host_embodied_tco2e_per_vcpu: float
    processor_families: Mapping[str, ProcessorFamily]
    substitutes: Mapping[str, str]
    gpu_models: Mapping[str, GpuModel]
    grid_band_pct: Mapping[str, float]
    host_embodied_tco2e_per_vcpu_extremes: tuple[float, float]
    family_hosts: Mapping[str, EmbodiedHost]
    burstable_hosts: Mapping[str, str]
    family_manufacturers: Mapping[str, str]
    choices: DeploymentChoices = DeploymentChoices()
    # Answers worked out from the tables above, kept once per set of coefficients: the estimator asks the same
    # questions (a type's CPU watts) for every record of an hour (``hardware.cpu_power``).
    memo: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def instance_type(self, name: str) -> InstanceType | None:
        return self.instance_types.get(name)

    def family_host(self, family: str) -> EmbodiedHost:
        """The host whose manufacturing a family's instances share: a burstable family borrows its sibling's."""
        return self.family_hosts[self.burstable_hosts.get(family, family)]

    def embodied_host(self, spec: InstanceType) -> EmbodiedHost:
        """The host of a type in the data: its own row's figure (kept per type, see c5d), or the sibling's host."""
        if spec.family in self.burstable_hosts:
            return self.family_host(spec.family)
        own = self.family_hosts[spec.family]
        return EmbodiedHost(spec.family, spec.host_embodied_tco2e, spec.host_vcpus, own.gpus)

    def cpu_watts(self, microarchitectures: Sequence[str]) -> Watts:
        """Per-vCPU watts of a type that may run on several microarchitectures.

        Known ones are combined by mean (median when Sandy or Ivy Bridge is among them, as CCF does);
        when none has coefficients, the AWS-wide averages are returned with ``known=False``.
        """
        known = [self.processors[m] for m in microarchitectures if m in self.processors]
        if not known:
            return Watts(self.constants.unknown_min_watts, self.constants.unknown_max_watts, known=False)
        combine = (
            statistics.median
            if any(m in self.constants.median_microarchitectures for m in microarchitectures)
            else statistics.fmean
        )
        return Watts(
            combine([p.min_watts for p in known]),
            combine([p.max_watts for p in known]),
            known=True,
        )

    def gpu_watts(self, model: str | None) -> Watts | None:
        processor = self.processors.get(model) if model else None
        if processor is None:
            return None
        return Watts(processor.min_watts, processor.max_watts, known=True)

    def memory_gib_per_chip(self, microarchitectures: Sequence[str]) -> float:
        """SPECpower memory baseline per chip, averaged over the known microarchitectures."""
        values = [
            baseline
            for m in microarchitectures
            if m in self.processors and (baseline := self.processors[m].memory_gib_per_chip) is not None
        ]
        return statistics.fmean(values) if values else self.constants.memory_gib_per_chip_fallback

    def chips(self, instance_type: InstanceType) -> int:
        override = self.constants.chips_by_family.get(instance_type.family)
        if override is not None:
            return override
        return max(1, -(-int(instance_type.host_vcpus) // int(self.constants.vcpus_per_chip)))

    def grid_factor(self, region: str) -> tuple[float, bool]:
        """Grid factor in t CO2e/kWh for ``region``, and whether it is the region's own (not the fallback)."""
        if region in self.grid_tco2e_per_kwh:
            return self.grid_tco2e_per_kwh[region], True
        return self.grid_tco2e_per_kwh[UNKNOWN_REGION], False

    def grid_factor_bounds(self, region: str) -> tuple[float, float]:
        """Low and high grid factor in t CO2e/kWh: the row's own band, or the whole table's span for the fallback."""
        if region in self.grid_tco2e_per_kwh and region in self.grid_band_pct:
            factor = self.grid_tco2e_per_kwh[region]
            band = self.grid_band_pct[region] / 100.0
            return factor * (1.0 - band), factor * (1.0 + band)
        own = [f for name, f in self.grid_tco2e_per_kwh.items() if name != UNKNOWN_REGION]
        return min(own), max(own)

    def cpu_watts_extremes(self) -> tuple[Watts, Watts]:
        """The least and the most power-hungry CPU coefficients of the data: what an unknown CPU could be."""
        cpus = [p for p in self.processors.values() if p.kind == "cpu"]
        low = Watts(min(p.min_watts for p in cpus), min(p.max_watts for p in cpus), known=False)
        high = Watts(max(p.min_watts for p in cpus), max(p.max_watts for p in cpus), known=False)
        return low, high

    def gpu_watts_per_tdp(self) -> tuple[float, float]:
        """Mean idle/TDP and full-load/TDP ratios of the GPUs that have both coefficients and a TDP."""
        pairs = [
            (self.processors[g.processor], g.tdp_watts)
            for g in self.gpu_models.values()
            if g.processor is not None and g.processor in self.processors and g.tdp_watts
        ]
        return (
            statistics.fmean(p.min_watts / tdp for p, tdp in pairs),
            statistics.fmean(p.max_watts / tdp for p, tdp in pairs),
        )

    def storage_class(self, service: str, name: str | None) -> tuple[StorageClass, bool]:
        """The storage class ``name`` of ``service``, or the service's default class with ``False``."""
        if name is not None and (service, name) in self.storage_classes:
            return self.storage_classes[(service, name)], True
        default = self.constants.default_storage_class[service]
        return self.storage_classes[(service, default)], False


def family_hosts(types: Iterable[InstanceType]) -> dict[str, EmbodiedHost]:
    """Each family's host: its largest size's row, holding as many GPUs as any size of the family."""
    by_family: dict[str, list[InstanceType]] = {}
    for t in types:
        by_family.setdefault(t.family, []).append(t)
    hosts = {}
    for family, members in by_family.items():
        largest = max(members, key=lambda t: t.host_vcpus)
        gpus = max(t.gpus for t in members)
        hosts[family] = EmbodiedHost(family, largest.host_embodied_tco2e, largest.host_vcpus, gpus)
    return hosts


def own_hosts_per_vcpu(hosts: Mapping[str, EmbodiedHost], borrowed: Iterable[str]) -> list[float]:
    """Host embodied t CO2e per host vCPU of every family with a host of its own.

    The burstable families are left out: their "host" in the data is an 8-vCPU artefact, and the host they
    borrow (``burstable-embodied-hosts.csv``) is already counted under its own family.
    """
    skipped = set(borrowed)
    return [h.tco2e_per_vcpu for family, h in hosts.items() if family not in skipped and h.vcpus > 0]


def median_embodied_per_vcpu(per_vcpu: Sequence[float]) -> float:
    """Median over families (used for types with no sibling family in the data).

    The median, not the mean: a few families with tiny "hosts" (m1-m3, c1, hs1: 4-16 vCPUs carrying a whole
    server's figure) pull the mean to 1.8 times the median (2.5 times with the burstable "hosts", as in 1.1).
    """
    return statistics.median(per_vcpu)


def embodied_per_vcpu_extremes(per_vcpu: Sequence[float]) -> tuple[float, float]:
    """10th and 90th percentiles over families of host embodied t CO2e per host vCPU.

    Percentiles rather than min/max, because the extremes of the table are artefacts: round placeholder hosts
    (1.0 t for 128 vCPUs) and tiny "hosts" (m1: four vCPUs; see SOURCES.md).
    """
    deciles = statistics.quantiles(per_vcpu, n=10)
    return deciles[0], deciles[-1]


def family_manufacturers(
    types: Iterable[InstanceType],
    families: Mapping[str, ProcessorFamily],
    vendors: Mapping[str, str],
) -> dict[str, str]:
    """CPU vendor of each family in the data, the one a sibling must share.

    AWS's documentation when the family table has it, else the vendor of the family's microarchitectures.
    Families on unknown CPUs (m1-m3, c1, t1, ...) are left out, so they are nobody's sibling.
    """
    found: dict[str, set[str]] = {}
    for t in types:
        found.setdefault(t.family, set()).update(vendors[m] for m in t.microarchitectures if m in vendors)
    result = {family: names.pop() for family, names in found.items() if len(names) == 1}
    result.update({family: f.manufacturer for family, f in families.items() if family in found})
    return result


def microarchitecture_vendors(
    processors: Iterable[Processor], substitutes: Iterable[Mapping[str, str]]
) -> dict[str, str]:
    """Vendor of every CPU microarchitecture named in the data: those with coefficients and those substituted."""
    vendors = {p.name: p.manufacturer for p in processors if p.kind == "cpu"}
    vendors.update({row["microarchitecture"]: row["manufacturer"] for row in substitutes})
    return vendors


def _data_file(name: str) -> str:
    return resources.files("carbonmeter.emissions").joinpath("data", name).read_text(encoding="utf-8")


def rows(name: str) -> Iterator[dict[str, str]]:
    yield from csv.DictReader(_data_file(name).splitlines())


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def _processor(row: Mapping[str, str]) -> Processor:
    return Processor(
        name=row["processor"],
        kind=row["kind"],
        min_watts=float(row["min_watts"]),
        max_watts=float(row["max_watts"]),
        memory_gib_per_chip=_optional_float(row["memory_gib_per_chip"]),
        manufacturer=row["manufacturer"],
    )


def _instance_type(row: Mapping[str, str]) -> InstanceType:
    microarchitectures = tuple(m.strip() for m in row["microarchitectures"].split(";") if m.strip())
    return InstanceType(
        name=row["instance_type"],
        family=row["family"],
        vcpus=float(row["vcpus"]),
        memory_gib=float(row["memory_gib"]),
        host_vcpus=float(row["host_vcpus"]),
        host_memory_gib=float(row["host_memory_gib"]),
        host_embodied_tco2e=float(row["host_embodied_tco2e"]),
        microarchitectures=microarchitectures or (UNKNOWN_MICROARCHITECTURE,),
        gpus=int(row["gpus"]) if row["gpus"].strip() else 0,
        gpu_model=row["gpu_model"].strip() or None,
        burstable_baseline_pct=_optional_float(row["burstable_baseline_pct"]),
    )


def _processor_family(row: Mapping[str, str]) -> ProcessorFamily:
    return ProcessorFamily(
        family=row["family"],
        manufacturer=row["manufacturer"],
        microarchitectures=tuple(m.strip() for m in row["microarchitectures"].split(";") if m.strip()),
    )


def _gpu_model(row: Mapping[str, str]) -> GpuModel:
    return GpuModel(
        api_name=row["api_name"],
        processor=row["processor"].strip() or None,
        tdp_watts=_optional_float(row["tdp_watts"]),
    )


def _storage_class(row: Mapping[str, str]) -> StorageClass:
    return StorageClass(
        service=row["service"],
        name=row["storage_class"],
        media=row["media"],
        replication_factor=float(row["replication_factor"]),
    )


def with_choices(choices: DeploymentChoices) -> Coefficients:
    """The bundled coefficients with a deployment's choices: the data files are still parsed once per process."""
    return replace(load_coefficients(), choices=choices)


@cache
def load_coefficients() -> Coefficients:
    """Parse the bundled data files once per process."""
    processors = {p.name: p for p in map(_processor, rows("processors.csv"))}
    instance_types = {t.name: t for t in map(_instance_type, rows("ec2-instance-types.csv"))}
    storage_classes = {(s.service, s.name): s for s in map(_storage_class, rows("storage-classes.csv"))}
    grid_rows = list(rows("grid-emission-factors.csv"))
    substitute_rows = list(rows("microarchitecture-substitutes.csv"))
    processor_families = {f.family: f for f in map(_processor_family, rows("processor-families.csv"))}
    hosts = family_hosts(instance_types.values())
    burstable_hosts = {r["family"]: r["host_family"] for r in rows("burstable-embodied-hosts.csv")}
    per_vcpu = own_hosts_per_vcpu(hosts, burstable_hosts)
    vendors = microarchitecture_vendors(processors.values(), substitute_rows)
    return Coefficients(
        constants=Constants.from_json(json.loads(_data_file("constants.json"))),
        processors=MappingProxyType(processors),
        instance_types=MappingProxyType(instance_types),
        rds_vcpus=MappingProxyType({r["db_instance_class"]: float(r["vcpus"]) for r in rows("rds-instance-vcpus.csv")}),
        grid_tco2e_per_kwh=MappingProxyType({r["region"]: float(r["tco2e_per_kwh"]) for r in grid_rows}),
        storage_classes=MappingProxyType(storage_classes),
        median_host_embodied_tco2e_per_vcpu=median_embodied_per_vcpu(per_vcpu),
        processor_families=MappingProxyType(processor_families),
        substitutes=MappingProxyType({r["microarchitecture"]: r["substitute"] for r in substitute_rows}),
        gpu_models=MappingProxyType({g.api_name: g for g in map(_gpu_model, rows("gpu-models.csv"))}),
        grid_band_pct=MappingProxyType({r["region"]: float(r["band_pct"]) for r in grid_rows if r["band_pct"].strip()}),
        host_embodied_tco2e_per_vcpu_extremes=embodied_per_vcpu_extremes(per_vcpu),
        family_hosts=MappingProxyType(hosts),
        burstable_hosts=MappingProxyType(burstable_hosts),
        family_manufacturers=MappingProxyType(
            family_manufacturers(instance_types.values(), processor_families, vendors)
        ),
    )
