"""Recommendations: per connection, the changes that would save the most kg CO2e a month, each with its assumptions.

Every saving is the methodology's own answer: the resource's stored usage is estimated as it ran, then again as it
would run changed (a smaller size, the Graviton type of the same size, a colder storage class, nothing at all),
with the same code (``emissions.estimate``), the same coefficients and the same low and high bounds. Grids are
the exception that needs no re-estimate: a region's energy does not depend on where it is drawn, so a move is its
stored energy at another region's grid factor. The window's savings are scaled to a month of 730 hours at the
rate of the hours the window holds. ``docs/insights.md`` ("Recommendations") gives each rule and its limits; the
thresholds are in ``data/recommendation-rules.json``, the Graviton equivalents and geographies beside it.
"""

from __future__ import annotations

import csv
import json
import math
import textwrap
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

from carbonmeter import report
from carbonmeter.aws import ClientFactory
from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, InstanceType, load_coefficients
from carbonmeter.emissions.estimate import estimate_all
from carbonmeter.emissions.hardware import family_of
from carbonmeter.emissions.uncertainty import ZERO, Band
from carbonmeter.models import GLOBAL_REGION, HOUR, Range, Rollup, Service, UsageRecord
from carbonmeter.services.ebs import EbsUsage
from carbonmeter.services.ec2 import Ec2Usage
from carbonmeter.services.s3 import S3Usage
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, UsageStore
from carbonmeter.windows import check_window

DEFAULT_DAYS = 14
# The reads grow by one query per region-hour: a month at most keeps a run to seconds and cents.
MAX_DAYS = 31
# The rules, as they appear in each recommendation's ``rule``.
IDLE_INSTANCE = "idle_instance"
SMALLER_INSTANCE = "smaller_instance"
GRAVITON_INSTANCE = "graviton_instance"
UNATTACHED_VOLUME = "unattached_volume"
COLDER_STORAGE = "colder_storage_class"
CLEANER_REGION = "cleaner_region"
# What the hourly usage is read for: EC2 and EBS every hour (their keys sort next to each other, so one query a
# region-hour reads both); S3 only its latest hour per region (its size is a daily figure, the same all day).
HOURLY_SERVICES = (Service.EBS, Service.EC2)
LATEST_SERVICES = (Service.S3,)
_BYTES_PER_MB = 1e6
_EBS_SNAPSHOT = "snapshot"
_S3_STANDARD = "StandardStorage"
_VOLUME_UNATTACHED = "available"
# Assumption lines wrap at this width in text, so that the output reads in a terminal.
WIDTH = 118


@dataclass(frozen=True)
class Rules:
    """The thresholds of ``data/recommendation-rules.json`` (each with its source there)."""

    min_measured_hours: int
    idle_peak_cpu_pct: float
    idle_network_out_mb_per_day: float
    oversized_peak_cpu_pct: float
    target_peak_cpu_pct: float
    hours_per_month: float
    s3_colder_classes: Mapping[str, str]


def _data_file(name: str) -> str:
    return resources.files("carbonmeter.insights").joinpath("data", name).read_text(encoding="utf-8")


@cache
def load_rules() -> Rules:
    value = {name: entry["value"] for name, entry in json.loads(_data_file("recommendation-rules.json")).items()}
    return Rules(
        min_measured_hours=int(value["min_measured_hours"]),
        idle_peak_cpu_pct=float(value["idle_peak_cpu_pct"]),
        idle_network_out_mb_per_day=float(value["idle_network_out_mb_per_day"]),
        oversized_peak_cpu_pct=float(value["oversized_peak_cpu_pct"]),
        target_peak_cpu_pct=float(value["target_peak_cpu_pct"]),
        hours_per_month=float(value["hours_per_month"]),
        s3_colder_classes=dict(value["s3_colder_classes"]),
    )


@cache
def graviton_families() -> Mapping[str, str]:
    """x86 family -> the Graviton family whose same-sized type replaces it (``graviton-equivalents.csv``)."""
    rows = csv.DictReader(_data_file("graviton-equivalents.csv").splitlines())
    return {row["x86_family"]: row["graviton_family"] for row in rows}


@cache
def geographies() -> Mapping[str, str]:
    """Region -> the geography a workload may move within (``region-geographies.csv``)."""
    rows = csv.DictReader(_data_file("region-geographies.csv").splitlines())
    return {row["region"]: row["geography"] for row in rows}


class Recommendation(BaseModel):
    """One change, its saving in kg CO2e a month (central and bounds) and what the figure assumes."""

    model_config = ConfigDict(frozen=True)

    rule: str
    region: str
    service: Service | None
    resource_id: str
    resource_type: str
    change: str
    saving_kgco2e_per_month: float
    saving_kgco2e_per_month_range: Range
    # Filled once a cost store holds the resource's daily cost (Cost Explorer per day, service and region).
    saving_usd_per_month: float | None = None
    assumptions: tuple[str, ...] = ()
    # Shown for information only, never ranked among the changes (moving a workload between regions).
    informational: bool = False
    hours: int


class Recommendations(BaseModel):
    """A connection's recommendations over a window: the changes ranked by saving, and the information apart."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    start: datetime
    end: datetime
    hours_wanted: int
    hours_read: int
    hours_per_month: float
    recommendations: tuple[Recommendation, ...]
    information: tuple[Recommendation, ...]
    dynamodb_requests: int = 0


@dataclass(frozen=True)
class Window:
    """What scales the window's figures to a month: its hours with stored figures, and the month's hours."""

    hours: int
    hours_per_month: float

    @property
    def to_month(self) -> float:
        return self.hours_per_month / self.hours if self.hours else 0.0


# --- reading --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """One query of the usage table: a region-hour's records of some services."""

    hour: datetime
    region: str
    services: tuple[Service, ...]


def read_plan(rollups: Iterable[Rollup]) -> list[Read]:
    """The queries the rules need, found from the roll-ups (one query, already read): EC2 and EBS in every
    region-hour that has any, S3 in the latest hour of each region that has some. Nothing else is read."""
    hourly: set[tuple[datetime, str]] = set()
    latest: dict[str, datetime] = {}
    for rollup in rollups:
        if rollup.service in HOURLY_SERVICES:
            hourly.add((rollup.hour, rollup.region))
        elif rollup.service in LATEST_SERVICES:
            latest[rollup.region] = max(rollup.hour, latest.get(rollup.region, rollup.hour))
    reads = [Read(hour, region, HOURLY_SERVICES) for hour, region in sorted(hourly)]
    reads += [Read(hour, region, LATEST_SERVICES) for region, hour in sorted(latest.items())]
    return reads


def connection_recommendations(
    clients: ClientFactory,
    settings: Settings,
    connection_id: str,
    end: datetime,
    now: datetime,
    days: int = DEFAULT_DAYS,
    coefficients: Coefficients | None = None,
) -> Recommendations:
    """The recommendations of a known connection from its stored figures of the ``days`` before ``end``."""
    start = end - timedelta(days=days)
    check_window(start, end, now)
    before = _dynamodb_requests(clients)
    ConnectionStore(clients, settings.connections_table).schedule(connection_id)
    rollups = EmissionStore(clients, settings.emissions_table).rollups(connection_id, start, end)
    usage = _read_usage(clients, settings, connection_id, read_plan(rollups))
    found = recommend(usage, rollups, coefficients or load_coefficients(), load_rules())
    return Recommendations(
        connection_id=connection_id,
        start=start,
        end=end,
        hours_wanted=(end - start) // HOUR,
        hours_read=found.window.hours,
        hours_per_month=found.window.hours_per_month,
        recommendations=found.changes,
        information=found.information,
        dynamodb_requests=_dynamodb_requests(clients) - before,
    )


def _read_usage(
    clients: ClientFactory, settings: Settings, connection_id: str, plan: Sequence[Read]
) -> list[UsageRecord]:
    """The plan's queries, ``region_workers`` at a time (a boto3 resource per thread: they are not thread-safe),
    in the plan's order."""
    local = threading.local()

    def read(query: Read) -> list[UsageRecord]:
        if not hasattr(local, "store"):
            local.store = UsageStore(clients, settings.usage_table)
        return list(local.store.read_services(connection_id, query.hour, query.region, query.services))

    with ThreadPoolExecutor(max_workers=settings.region_workers) as pool:
        return [record for records in pool.map(read, plan) for record in records]


def _dynamodb_requests(clients: ClientFactory) -> int:
    return sum(count for call, count in clients.counter.calls.items() if call.startswith("dynamodb:"))


# --- the rules ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    window: Window
    changes: tuple[Recommendation, ...]
    information: tuple[Recommendation, ...]


def recommend(usage: Sequence[UsageRecord], rollups: Sequence[Rollup], c: Coefficients, rules: Rules) -> Found:
    """Every rule over the window's usage and roll-ups; the changes ranked by central saving, largest first."""
    window = Window(len({rollup.hour for rollup in rollups}), rules.hours_per_month)
    changes: list[Recommendation] = []
    for records in _by_resource(usage).values():
        service = records[0].service
        if service == Service.EC2:
            changes += instance_recommendations(records, c, rules, window)
        elif service == Service.EBS:
            changes += volume_recommendations(records, c, rules, window)
        elif service == Service.S3:
            changes += storage_class_recommendations(records, c, rules)
    ranked = sorted(
        (r for r in changes if r.saving_kgco2e_per_month > 0),
        key=lambda r: (-r.saving_kgco2e_per_month, r.region, r.resource_id, r.rule),
    )
    information = sorted(region_moves(rollups, c, window), key=lambda r: (-r.saving_kgco2e_per_month, r.region))
    return Found(window, tuple(ranked), tuple(information))


def _by_resource(usage: Iterable[UsageRecord]) -> dict[tuple[str, str, str, str], list[UsageRecord]]:
    groups: dict[tuple[str, str, str, str], list[UsageRecord]] = defaultdict(list)
    for record in usage:
        groups[(record.region, record.service, record.resource_id, record.resource_type)].append(record)
    return {key: sorted(records, key=lambda r: r.hour) for key, records in sorted(groups.items())}


def total_co2e(usage: Sequence[UsageRecord], c: Coefficients) -> Band:
    """Operational plus embodied kg CO2e of ``usage`` by the methodology, with its bounds added up."""
    result = ZERO
    for record in estimate_all(usage, c):
        operational = record.operational_kgco2e_range or Range(
            low=record.operational_kgco2e, high=record.operational_kgco2e
        )
        embodied = record.embodied_kgco2e_range or Range(low=record.embodied_kgco2e, high=record.embodied_kgco2e)
        result = result + Band(
            operational.low + embodied.low,
            record.operational_kgco2e + record.embodied_kgco2e,
            operational.high + embodied.high,
        )
    return result


def saving(before: Band, after: Band, scale: float) -> Band:
    """``before - after``: centrally, with every coefficient at its low end, and with every one at its high end
    (the bounds of a difference of two estimates that share their coefficients); scaled to a month."""
    low_world, high_world = before.low - after.low, before.high - after.high
    central = before.central - after.central
    return Band.around(central, min(low_world, high_world), max(low_world, high_world)).times(scale)


def _recommendation(
    first: UsageRecord, rule: str, change: str, band: Band, assumptions: Sequence[str], hours: int
) -> Recommendation:
    return Recommendation(
        rule=rule,
        region=first.region,
        service=first.service,
        resource_id=first.resource_id,
        resource_type=first.resource_type,
        change=change,
        saving_kgco2e_per_month=band.central,
        saving_kgco2e_per_month_range=band.as_range(),
        assumptions=tuple(assumptions),
        hours=hours,
    )


def _ec2(record: UsageRecord) -> Ec2Usage:
    assert isinstance(record.details, Ec2Usage)
    return record.details


def instance_recommendations(
    records: Sequence[UsageRecord], c: Coefficients, rules: Rules, window: Window
) -> list[Recommendation]:
    """An EC2 instance's: stop it when idle, else a smaller size when its peak allows; and its Graviton type."""
    cpu = [value for r in records if (value := _ec2(r).cpu_utilization_pct) is not None and not math.isnan(value)]
    if len(cpu) < rules.min_measured_hours:
        return []
    before = total_co2e(records, c)
    peak = max(cpu)
    found: list[Recommendation] = []
    mb_per_day = sum(r.network_out_bytes for r in records) / _BYTES_PER_MB / (len(records) / 24)
    common = _instance_common(records, len(cpu), peak)
    if peak < rules.idle_peak_cpu_pct and mb_per_day <= rules.idle_network_out_mb_per_day:
        band = saving(before, ZERO, window.to_month)
        assumptions = [
            *common,
            f"idle: peak below {rules.idle_peak_cpu_pct:g} % and NetworkOut {mb_per_day:.2g} MB a day "
            f"(at most {rules.idle_network_out_mb_per_day:g})",
            "stopped, it saves its whole estimate, its share of the host's manufacturing included (the "
            "methodology charges embodied emissions per hour run); its EBS volumes stay until deleted",
        ]
        found.append(
            _recommendation(
                records[0],
                IDLE_INSTANCE,
                f"stop or terminate {records[0].resource_id} ({records[0].resource_type})",
                band,
                assumptions,
                len(records),
            )
        )
        return found
    if peak < rules.oversized_peak_cpu_pct:
        found += _smaller(records, c, rules, window, before, peak, common)
    found += _graviton(records, c, window, before, common)
    return found


def _instance_common(records: Sequence[UsageRecord], measured: int, peak: float) -> list[str]:
    details = _ec2(records[-1])
    lines = [f"measured CPU in {measured} of {len(records)} hour(s); peak hourly average {peak:.3g} %"]
    if details.cluster_kind and details.cluster:
        lines.append(
            f"capacity of {details.cluster_kind.upper()} cluster {details.cluster}: change its node group or "
            "launch template, not the instance"
        )
    return lines


def _smaller(
    records: Sequence[UsageRecord],
    c: Coefficients,
    rules: Rules,
    window: Window,
    before: Band,
    peak: float,
    common: Sequence[str],
) -> list[Recommendation]:
    spec = c.instance_type(records[0].resource_type)
    if spec is None:
        return []
    vcpus = _ec2(records[0]).vcpus or spec.vcpus
    target = smaller_size(c, spec, vcpus, peak, rules.target_peak_cpu_pct)
    if target is None:
        return []
    ratio = vcpus / target.vcpus
    after = [_retyped(r, target, cpu_scale=ratio) for r in records]
    band = saving(before, total_co2e(after, c), window.to_month)
    assumptions = [
        *common,
        f"the same work on {target.vcpus:g} vCPUs instead of {vcpus:g}: each hour's CPU x {ratio:.3g}, peak "
        f"{min(100.0, peak * ratio):.3g} % (at most {rules.target_peak_cpu_pct:g})",
        f"memory {target.memory_gib:g} GiB instead of {spec.memory_gib:g}: memory use is not measured (no "
        "CloudWatch agent), so check it first",
    ]
    change = f"resize {records[0].resource_id} from {spec.name} to {target.name}"
    return [_recommendation(records[0], SMALLER_INSTANCE, change, band, assumptions, len(records))]


def smaller_size(
    c: Coefficients, spec: InstanceType, vcpus: float, peak: float, target_peak: float
) -> InstanceType | None:
    """The smallest size of ``spec``'s family in the data with fewer vCPUs whose peak stays at most ``target_peak``
    (the same work spread over fewer vCPUs); None when no size qualifies."""
    fits = [
        t
        for t in c.instance_types.values()
        if t.family == spec.family and t.vcpus < vcpus and peak * vcpus / t.vcpus <= target_peak
    ]
    return min(fits, key=lambda t: (t.vcpus, -t.memory_gib, t.name)) if fits else None


def graviton_equivalent(c: Coefficients, instance_type: str) -> InstanceType | None:
    """The Graviton type of the same size (``graviton-equivalents.csv``), when the data has both types with the
    same vCPUs and memory; None otherwise."""
    family = family_of(instance_type)
    target_family = graviton_families().get(family)
    spec = c.instance_type(instance_type)
    if target_family is None or spec is None:
        return None
    target = c.instance_type(f"{target_family}{instance_type.removeprefix(family)}")
    if target is None or (target.vcpus, target.memory_gib) != (spec.vcpus, spec.memory_gib):
        return None
    return target


def _graviton(
    records: Sequence[UsageRecord], c: Coefficients, window: Window, before: Band, common: Sequence[str]
) -> list[Recommendation]:
    if _ec2(records[0]).architecture == "arm64":
        return []
    target = graviton_equivalent(c, records[0].resource_type)
    if target is None:
        return []
    after = [_retyped(r, target, cpu_scale=1.0, graviton=True) for r in records]
    band = saving(before, total_co2e(after, c), window.to_month)
    assumptions = [
        *common,
        f"the same vCPUs ({target.vcpus:g}), memory ({target.memory_gib:g} GiB) and hourly CPU on "
        f"{', '.join(target.microarchitectures)}: no gain in work per vCPU is counted",
        "the software must run on arm64 (rebuilt images, arm64 packages)",
    ]
    change = f"move {records[0].resource_id} from {records[0].resource_type} to {target.name} (Graviton)"
    return [_recommendation(records[0], GRAVITON_INSTANCE, change, band, assumptions, len(records))]


def _retyped(record: UsageRecord, target: InstanceType, *, cpu_scale: float, graviton: bool = False) -> UsageRecord:
    """``record`` as if it had run as ``target``: its size from the data, its CPU scaled to the new vCPUs."""
    details = _ec2(record)
    cpu = details.cpu_utilization_pct
    update: dict[str, Any] = {
        "vcpus": target.vcpus,
        "memory_gib": target.memory_gib,
        "cpu_utilization_pct": None if cpu is None else min(100.0, cpu * cpu_scale),
    }
    if graviton:
        update.update(
            cpu_manufacturer="AWS",
            architecture="arm64",
            burstable=target.burstable_baseline_pct is not None,
            gpus=float(target.gpus),
            gpu_model=None,
        )
    return record.model_copy(update={"resource_type": target.name, "details": details.model_copy(update=update)})


def volume_recommendations(
    records: Sequence[UsageRecord], c: Coefficients, rules: Rules, window: Window
) -> list[Recommendation]:
    """An EBS volume attached to nothing in every hour of the window (at least the rules' hours): delete it."""
    states = [r.details.state for r in records if isinstance(r.details, EbsUsage)]
    if len(records) < rules.min_measured_hours or any(state != _VOLUME_UNATTACHED for state in states):
        return []
    before = total_co2e(records, c)
    band = saving(before, ZERO, window.to_month)
    snapshot = [r.model_copy(update={"resource_type": _EBS_SNAPSHOT}) for r in records]
    kept = total_co2e(snapshot, c).times(window.to_month)
    assert isinstance(records[-1].details, EbsUsage)
    size = records[-1].details.storage_gb
    assumptions = [
        f"attached to nothing (state 'available') in all {len(records)} hour(s) it was seen",
        f"deleted, it saves its whole estimate ({size:.4g} GB provisioned, stored whatever it holds)",
        f"a snapshot kept instead would hold at most {size:.4g} GB on HDD, 3 copies: up to {_kg(kept.central)} "
        "a month of it back",
    ]
    change = f"delete {records[0].resource_id} (snapshot it first if its data is needed)"
    return [_recommendation(records[0], UNATTACHED_VOLUME, change, band, assumptions, len(records))]


def storage_class_recommendations(
    records: Sequence[UsageRecord], c: Coefficients, rules: Rules
) -> list[Recommendation]:
    """A bucket's S3 Standard data, at its latest size, in the colder class that saves the most by the
    methodology's media and replication; none when no colder class saves anything."""
    latest = records[-1]
    if (
        latest.resource_type != _S3_STANDARD
        or not isinstance(latest.details, S3Usage)
        or latest.details.storage_gb <= 0
    ):
        return []
    before = total_co2e([latest], c)
    savings = {
        name: saving(before, total_co2e([_reclassed(latest, name)], c), rules.hours_per_month / latest.hours)
        for name in rules.s3_colder_classes
    }
    best = max(savings, key=lambda name: (savings[name].central, name))
    if savings[best].central <= 0:
        return []
    same = sorted(rules.s3_colder_classes[name] for name, band in savings.items() if band.central <= 0)
    replication = c.storage_class(Service.S3.value, best)[0].replication_factor
    assumptions = [
        f"{latest.details.storage_gb:.4g} GB in S3 Standard at the latest hour read, kept for a month",
        f"{rules.s3_colder_classes[best]} keeps {replication:g} copies instead of 3 (the methodology's replication); "
        "it suits data that is read rarely and can be re-created if its one zone is lost",
        "CarbonMeter reads no S3 request metrics: how often the objects are read is for their owner to judge",
    ]
    if same:
        assumptions.append(f"{', '.join(same)}: the same media and copies in the methodology, so no saving counted")
    change = f"move the S3 Standard data of bucket {latest.resource_id} to {rules.s3_colder_classes[best]}"
    return [_recommendation(latest, COLDER_STORAGE, change, savings[best], assumptions, 1)]


def _reclassed(record: UsageRecord, storage_class: str) -> UsageRecord:
    details = record.details.model_copy(update={"storage_type": storage_class})
    return record.model_copy(update={"resource_type": storage_class, "details": details})


def region_moves(rollups: Sequence[Rollup], c: Coefficients, window: Window) -> list[Recommendation]:
    """For each region, its stored energy at the cleanest grid of its geography: information, not a change."""
    by_region: dict[str, list[Rollup]] = defaultdict(list)
    for rollup in rollups:
        if rollup.region != GLOBAL_REGION:
            by_region[rollup.region].append(rollup)
    found = []
    for region, group in sorted(by_region.items()):
        target = cleanest_region(c, region)
        if target is None:
            continue
        energy = _summed(group, "energy_kwh")
        operational = _summed(group, "operational_kgco2e")
        band = saving(operational, _operational_at(c, target, energy), window.to_month)
        if band.central <= 0:
            continue
        own, theirs = c.grid_factor(region)[0], c.grid_factor(target)[0]
        assumptions = [
            f"the region's stored energy ({_kwh(energy.central)} over {window.hours} h) drawn from {target}'s grid: "
            f"{theirs * 1e6:.0f} instead of {own * 1e6:.0f} g CO2e per kWh (yearly location-based factors)",
            f"both in {geographies()[region]}; embodied emissions, latency, prices and data residency are not weighed",
            "information only: moving a workload is rarely worth its cost and risk for carbon alone",
        ]
        found.append(
            Recommendation(
                rule=CLEANER_REGION,
                region=region,
                service=None,
                resource_id=region,
                resource_type=target,
                change=f"{region} -> {target}",
                saving_kgco2e_per_month=band.central,
                saving_kgco2e_per_month_range=band.as_range(),
                assumptions=tuple(assumptions),
                informational=True,
                hours=len({r.hour for r in group}),
            )
        )
    return found


def cleanest_region(c: Coefficients, region: str) -> str | None:
    """The region of ``region``'s geography with the lowest grid factor of its own, when lower than its own."""
    geography = geographies().get(region)
    if geography is None or region not in c.grid_tco2e_per_kwh:
        return None
    candidates = [r for r, g in geographies().items() if g == geography and r in c.grid_tco2e_per_kwh]
    best = min(candidates, key=lambda r: (c.grid_tco2e_per_kwh[r], r))
    return best if c.grid_tco2e_per_kwh[best] < c.grid_tco2e_per_kwh[region] else None


def _summed(rollups: Iterable[Rollup], figure: str) -> Band:
    result = ZERO
    for rollup in rollups:
        central = float(getattr(rollup, figure))
        bounds = getattr(rollup, f"{figure}_range") or Range(low=central, high=central)
        result = result + Band(bounds.low, central, bounds.high)
    return result


def _operational_at(c: Coefficients, region: str, energy: Band) -> Band:
    """What ``estimate`` gives for that energy in ``region``: the grid factor and its bounds."""
    factor, _ = c.grid_factor(region)
    low, high = c.grid_factor_bounds(region)
    return Band.around(
        m.operational_co2e(energy.central, factor * m.KG_PER_TONNE),
        m.operational_co2e(energy.low, low * m.KG_PER_TONNE),
        m.operational_co2e(energy.high, high * m.KG_PER_TONNE),
    )


# --- presenting -----------------------------------------------------------------------------------------------


def _kg(value: float) -> str:
    return _single(value, "mass")


def _kwh(value: float) -> str:
    return _single(value, "energy")


def _single(value: float, quantity: report.Quantity) -> str:
    """One figure in the report's units and digits, without bounds (``1.23 kg``)."""
    cell = report.table(["x"], [[report.Estimate(value, value, value, quantity)]]).splitlines()[-1].strip()
    central, _, rest = cell.partition(" [")
    return f"{central} {rest.rsplit('] ', 1)[-1].strip()}"


def _estimate(r: Recommendation) -> report.Estimate:
    bounds = r.saving_kgco2e_per_month_range
    return report.Estimate(r.saving_kgco2e_per_month, bounds.low, bounds.high)


def headline(found: Recommendations) -> str:
    """What the figures are: the window read, and how it is scaled to a month."""
    wanted = f"{found.hours_wanted} h ({found.hours_wanted // 24} days) before {_hour(found.end)}"
    read = "all" if found.hours_read == found.hours_wanted else f"{found.hours_read} h"
    return (
        f"kg CO2e saved a month ({found.hours_per_month:g} h) at the rate of {read} of the {wanted};\n"
        "range: every coefficient at its low end, or every one at its high end"
    )


def _hour(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def text(found: Recommendations, *, limit: int | None = None, assumptions: bool = True) -> str:
    """The recommendations as a person reads them: ranked changes, then the information apart."""
    lines = [headline(found), ""]
    shown = found.recommendations[:limit] if limit else found.recommendations
    if shown:
        lines += _ranked(shown, assumptions)
    else:
        lines.append("no change found that saves anything by the methodology")
    if limit and len(found.recommendations) > len(shown):
        lines.append(f"... and {len(found.recommendations) - len(shown)} more (python -m carbonmeter recommendations)")
    if found.information:
        lines += ["", "For information, not recommended: the cleanest grid in the same geography"]
        rows = [[f"{r.region} -> {r.resource_type}", _estimate(r)] for r in found.information]
        lines += ["  " + line for line in report.table(["move", "saving / month"], rows).splitlines()]
    return "\n".join(lines)


def _ranked(shown: Sequence[Recommendation], assumptions: bool) -> list[str]:
    rows = [[rank, r.region, _estimate(r), r.change] for rank, r in enumerate(shown, 1)]
    table = report.table(["#", "region", "saving / month", "change"], rows).splitlines()
    if not assumptions:
        return table
    lines = table[:2]
    for row, r in zip(table[2:], shown, strict=True):
        lines.append(row)
        lines += [textwrap.fill(line, WIDTH, initial_indent="      - ", subsequent_indent="        ")
                  for line in r.assumptions]  # fmt: skip
    return lines


def document(found: Recommendations) -> dict[str, Any]:
    """The recommendations as JSON: every figure at full precision in kg CO2e a month."""
    return found.model_dump(mode="json")
