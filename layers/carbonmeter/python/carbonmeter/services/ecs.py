"""ECS on Fargate: every service (and every family of tasks outside a service) running on Fargate capacity.

One record per workload: a service (``resource_id`` = ``<cluster>/<service>``) or the tasks of one family that
belong to no service (``<cluster>/<family>``). A task's size comes from its task definition: ``cpu`` / 1024 vCPUs,
``memory`` MiB, ``runtimePlatform.cpuArchitecture`` (ARM64 or X86_64) and ephemeral storage beyond the 20 GiB
every task gets.

How many tasks ran in the hour, best source first:

1. Container Insights' ``RunningTaskCount`` (``ECS/ContainerInsights``), where the cluster turned it on;
2. the account's Fargate vCPUs in ``AWS/Usage`` (free, always published), less what the Container Insights
   workloads of the region explain, shared out over the other workloads by their size at collection time
   (running tasks x vCPUs): flagged ``fargate_usage_shared``;
3. the ``runningCount`` seen at collection time: flagged ``running_count_at_collection``.

Tasks on the EC2 launch type (or an Auto Scaling group capacity provider) run on container instances that the
EC2 slice meters: they get no record here, so their capacity is never counted twice.

The estimate is the methodology's vCPU model (Graviton for ARM64, CCF's AWS averages for x86, as for Lambda)
with AWS/ECS ``CPUUtilization``, widened to SPRUCE/Tailpipe's flat per-vCPU-hour and per-GB-hour figures
(``fargate-coefficients.csv``); builtin only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from statistics import fmean
from types import MappingProxyType
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions import hardware
from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, rows
from carbonmeter.emissions.parts import CAPACITY_UNKNOWN, Parts, memory, processor_kwh, storage, utilisation
from carbonmeter.emissions.uncertainty import Band
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import GB_PER_GIB, HourContext, Resource, ServiceSlice, shared

NAMESPACE = "AWS/ECS"
INSIGHTS_NAMESPACE = "ECS/ContainerInsights"
USAGE_NAMESPACE = "AWS/Usage"
PERIOD = 3600
COEFFICIENTS_FILE = "fargate-coefficients.csv"
# The two ways AWS documents Fargate's usage metric (ResourceCount): the ECS guide's (Resource=vCPU, a Class per
# purchase option) and the EKS guide's (Resource=OnDemand or Spot, Class=None). Each counts the account's running
# Fargate vCPUs, ECS tasks and EKS pods together; within a shape the options add up.
USAGE_SHAPES: tuple[tuple[tuple[str, str], ...], ...] = (
    (("Resource", "vCPU"), ("Class", "Standard/OnDemand")),
    (("Resource", "vCPU"), ("Class", "Standard/Spot")),
    (("Resource", "OnDemand"), ("Class", "None")),
    (("Resource", "Spot"), ("Class", "None")),
)
_SHAPE_FAMILY = ("vCPU", "vCPU", "Class=None", "Class=None")
CPU_UNITS_PER_VCPU = 1024
# Every Fargate task has 20 GiB of ephemeral storage; only what a task definition asks beyond it is its own.
INCLUDED_EPHEMERAL_GIB = 20.0
FARGATE_PROVIDERS = frozenset({"FARGATE", "FARGATE_SPOT"})
# DescribeServices and DescribeTasks take at most this many names a call.
SERVICES_PER_CALL = 10
TASKS_PER_CALL = 100
_MIB_PER_GIB = 1024.0

# Where a workload's task-hours came from: Container Insights, a share of the account's AWS/Usage count, or the
# running count seen at collection time.
TaskCountSource = Literal["container_insights", "fargate_usage", "running_count"]

# Flags of the task count's source.
FARGATE_USAGE_SHARED = "fargate_usage_shared"
RUNNING_COUNT_AT_COLLECTION = "running_count_at_collection"
# The estimate spans SPRUCE/Tailpipe's flat figures as well as the methodology's model.
FARGATE_COEFFICIENTS_DISAGREE = "fargate_coefficients_range"


class EcsUsage(ServiceUsage):
    """A Fargate workload-hour: one task's size, the task-hours run and how they were counted, and its CPU."""

    service: Literal[Service.ECS] = Service.ECS
    cluster: str = ""
    vcpus: float | None = None  # per task
    memory_mib: float | None = None  # per task
    architecture: str | None = None  # x86_64 or arm64
    ephemeral_storage_gib: float = INCLUDED_EPHEMERAL_GIB
    task_hours: float = 0.0
    task_count_source: TaskCountSource = "running_count"
    cpu_utilization_pct: float | None = None


@dataclass(frozen=True)
class TaskSize:
    vcpus: float
    memory_mib: float
    architecture: str
    ephemeral_storage_gib: float


class EcsSlice(ServiceSlice[EcsUsage]):
    name = Service.ECS
    details_type = EcsUsage
    embodied_not_modelled = None
    flag_meanings = MappingProxyType(
        {
            FARGATE_USAGE_SHARED: "task-hours from the account's AWS/Usage vCPUs, shared by size",
            RUNNING_COUNT_AT_COLLECTION: "task-hours from the running count at collection",
            FARGATE_COEFFICIENTS_DISAGREE: "bounds stretched to SPRUCE/Tailpipe's Fargate figures",
        }
    )
    read_actions = (
        "ecs:DescribeClusters",
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:DescribeTasks",
        "ecs:ListClusters",
        "ecs:ListServices",
        "ecs:ListTasks",
    )
    providers = frozenset()
    main_part = "compute"
    data_files = ("processors.csv", COEFFICIENTS_FILE)
    # What ``fargate_workloads`` reads (EKS reads it too): answers are parsed to these alone. A service's deployments
    # and events, a task's containers and a task definition's container definitions are never read.
    read_members = MappingProxyType(
        {
            ("ecs", "Service"): frozenset(
                {"serviceName", "taskDefinition", "runningCount", "createdAt", "capacityProviderStrategy", "launchType"}
            ),
            ("ecs", "Task"): frozenset({"group", "taskDefinitionArn", "startedAt", "createdAt", "stoppedAt"}),
            ("ecs", "TaskDefinition"): frozenset({"cpu", "memory", "runtimePlatform", "ephemeralStorage"}),
        }
    )

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        return _with_pool(region, region_fargate_workloads(clients, region))

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        attributes = resource.attributes
        requests = [_cpu_request(attributes, hour)] if attributes["kind"] == "service" else []
        if attributes["insights"]:
            return [*requests, running_tasks_request(attributes["dimensions"], hour)]
        # Without Container Insights: the account's Fargate vCPUs, and what the region's insights workloads
        # explain of it (the same queries as theirs, so CloudWatch is asked once).
        return [*requests, *unexplained_usage_requests(attributes["measured_peers"], hour)]

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        attributes = resource.attributes
        size: TaskSize = attributes["size"]
        task_hours, source = _task_hours(attributes, metrics, context.hour)
        cpu = metrics.get(_cpu_request(attributes, context.hour), ()) if attributes["kind"] == "service" else ()
        details = EcsUsage(
            cluster=attributes["cluster"],
            vcpus=size.vcpus,
            memory_mib=size.memory_mib,
            architecture=size.architecture,
            ephemeral_storage_gib=size.ephemeral_storage_gib,
            task_hours=task_hours,
            task_count_source=source,
            cpu_utilization_pct=fmean(cpu) if cpu else None,
        )
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: EcsUsage, c: Coefficients) -> Parts:
        parts = Parts()
        if not details.vcpus or details.memory_mib is None:
            parts.flag(CAPACITY_UNKNOWN)
            return parts
        if details.task_count_source == "fargate_usage":
            parts.flag(FARGATE_USAGE_SHARED)
        elif details.task_count_source == "running_count":
            parts.flag(RUNNING_COUNT_AT_COLLECTION)
        add_fargate(
            parts,
            c,
            vcpu_hours=details.vcpus * details.task_hours,
            memory_gib_hours=details.memory_mib / _MIB_PER_GIB * details.task_hours,
            architecture=details.architecture,
            cpu_utilization_pct=details.cpu_utilization_pct,
        )
        extra_gib = max(0.0, details.ephemeral_storage_gib - INCLUDED_EPHEMERAL_GIB)
        if extra_gib:
            parts.storage = storage(c, extra_gib * GB_PER_GIB, details.task_hours, "ssd", 1.0)
        return parts


# --- The estimate, shared with EKS's Fargate pods -----------------------------------------------------------------


@dataclass(frozen=True)
class FargateCoefficients:
    """SPRUCE/Tailpipe's flat figures: IT energy per vCPU-hour by architecture, and per GB-hour of memory."""

    kwh_per_vcpu_hour: Mapping[str, float]
    kwh_per_gb_hour: float


@cache
def fargate_coefficients() -> FargateCoefficients:
    """``fargate-coefficients.csv``, read once per process."""
    per_vcpu: dict[str, float] = {}
    per_gb = 0.0
    for row in rows(COEFFICIENTS_FILE):
        if row["quantity"] == "vcpu_hour":
            per_vcpu[row["architecture"]] = float(row["kwh"])
        elif row["quantity"] == "gb_hour":
            per_gb = float(row["kwh"])
    return FargateCoefficients(MappingProxyType(per_vcpu), per_gb)


def add_fargate(
    parts: Parts,
    c: Coefficients,
    *,
    vcpu_hours: float,
    memory_gib_hours: float,
    architecture: str | None,
    cpu_utilization_pct: float | None,
) -> None:
    """Compute, memory and embodied of Fargate capacity into ``parts``.

    The central figure is the methodology's own vCPU model, as for Lambda (Fargate's hosts are not published):
    Graviton's coefficients for ARM64, CCF's AWS averages for x86, at the measured utilisation or the default.
    Tailpipe's flat figures (via SPRUCE) disagree with it (x86: 8.8 W per vCPU against CCF's 0.74-3.5 W), so
    each bound reaches the further of the two models. Memory is charged beyond what the vCPUs' chip share holds,
    as for Lambda; embodied is the median host's share per vCPU, bounded by the hosts' spread.
    """
    k = c.constants
    arm = (architecture or "x86_64").lower() == "arm64"
    # Fargate's ARM hosts are Graviton, as Lambda's; its x86 hosts are not published.
    power = hardware.microarchitectures_power(c, (k.lambda_arm64_processor,)) if arm else hardware.unknown_cpu_power(c)
    for flag in power.flags:
        parts.flag(flag)
    load, _ = utilisation(cpu_utilization_pct, c, parts)
    model = processor_kwh(power, load, Band.exact(vcpu_hours), k.pue, 1.0)
    flat = fargate_coefficients()
    tailpipe = flat.kwh_per_vcpu_hour["arm64" if arm else "x86_64"] * vcpu_hours * k.pue
    parts.compute = _spanning(model, tailpipe)
    excess = m.excess_memory_gib_hours_by_density(
        memory_gib_hours, vcpu_hours, k.vcpus_per_chip, power.memory_gib_per_chip
    )
    parts.memory = _spanning(memory(c, excess, 1.0), flat.kwh_per_gb_hour * memory_gib_hours * k.pue)
    parts.flag(FARGATE_COEFFICIENTS_DISAGREE)
    parts.embodied = _embodied_per_vcpu(c, vcpu_hours)


def _spanning(band: Band, other: float) -> Band:
    """``band`` with its bounds stretched to reach ``other`` (a second model's figure)."""
    return Band.around(band.central, min(band.low, other), max(band.high, other))


def _embodied_per_vcpu(c: Coefficients, vcpu_hours: float) -> Band:
    """Embodied kg CO2e of ``vcpu_hours`` on an unknown host: the median per vCPU, bounded by the spread and life."""
    k = c.constants
    band = k.embodied_manufacturing_band_pct / 100.0
    low_per_vcpu, high_per_vcpu = c.host_embodied_tco2e_per_vcpu_extremes

    def kg(tco2e_per_vcpu: float, life_hours: float) -> float:
        return m.embodied_kgco2e(tco2e_per_vcpu, vcpu_hours, life_hours, 1.0, 1.0)

    central = kg(c.median_host_embodied_tco2e_per_vcpu, k.server_life_hours)
    low = min(kg(low_per_vcpu, k.server_life_hours_long), central * (1.0 - band))
    return Band.around(central, low, max(kg(high_per_vcpu, k.server_life_hours), central * (1.0 + band)))


# --- Discovery ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """A service or a family of tasks outside services, on Fargate, as discovery found it."""

    cluster: str
    name: str
    kind: Literal["service", "tasks"]
    insights: bool
    size: TaskSize
    # Tasks running on Fargate at collection time (a service's runningCount x its Fargate share).
    running: float
    # The share of its tasks Fargate runs (1 unless a capacity provider strategy mixes in EC2 capacity).
    fargate_share: float
    # Its lifetime as the API gives it: a service's createdAt; a family's first task's start and, once every
    # task has stopped, its last stop (``Resource.created_at``/``ended_at``).
    created_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def dimensions(self) -> tuple[tuple[str, str], ...]:
        key = "ServiceName" if self.kind == "service" else "TaskDefinitionFamily"
        return (("ClusterName", self.cluster), (key, self.name))


@dataclass(frozen=True)
class MeasuredPeer:
    """A Container Insights workload, as the region's others see it: its query and its vCPUs per task."""

    dimensions: tuple[tuple[str, str], ...]
    vcpus_per_task: float
    running: float


def region_fargate_workloads(clients: ClientFactory, region: str) -> list[Workload]:
    """``fargate_workloads`` of the region, listed once per discovery for ECS and EKS both (``shared``)."""
    return shared(("ecs.fargate_workloads", region), lambda: fargate_workloads(clients.client("ecs", region)))


def fargate_workloads(ecs: Any) -> list[Workload]:
    """Every Fargate workload of the region's clusters (EC2-launch-type ones are left to EC2)."""
    sizes = _TaskSizes(ecs)
    workloads: list[Workload] = []
    for cluster in _clusters(ecs):
        name = cluster["clusterName"]
        insights = _insights(cluster)
        workloads.extend(_service_workloads(ecs, cluster["clusterArn"], name, insights, sizes))
        workloads.extend(_task_workloads(ecs, cluster["clusterArn"], name, insights, sizes))
    return workloads


def _clusters(ecs: Any) -> Iterator[Mapping[str, Any]]:
    arns = [arn for page in ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]]
    for batch in _batches(arns, 100):
        yield from ecs.describe_clusters(clusters=batch, include=["SETTINGS"])["clusters"]


def _insights(cluster: Mapping[str, Any]) -> bool:
    # "enabled" and "enhanced" both publish RunningTaskCount per service and per task family.
    settings = {setting["name"]: setting.get("value") for setting in cluster.get("settings", [])}
    return settings.get("containerInsights") in {"enabled", "enhanced"}


def _service_workloads(
    ecs: Any, cluster_arn: str, cluster: str, insights: bool, sizes: _TaskSizes
) -> Iterator[Workload]:
    arns = [
        arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster_arn) for arn in page["serviceArns"]
    ]
    for batch in _batches(arns, SERVICES_PER_CALL):
        for service in ecs.describe_services(cluster=cluster_arn, services=batch)["services"]:
            share = fargate_share(service)
            if share == 0.0:
                continue
            yield Workload(
                cluster=cluster,
                name=service["serviceName"],
                kind="service",
                insights=insights,
                size=sizes.get(service["taskDefinition"]),
                running=float(service.get("runningCount", 0)) * share,
                fargate_share=share,
                created_at=service.get("createdAt"),
            )


def _task_workloads(ecs: Any, cluster_arn: str, cluster: str, insights: bool, sizes: _TaskSizes) -> Iterator[Workload]:
    """Fargate tasks started outside any service (RunTask, scheduled tasks), one workload per family."""
    arns = [
        arn
        for page in ecs.get_paginator("list_tasks").paginate(
            cluster=cluster_arn, launchType="FARGATE", desiredStatus="RUNNING"
        )
        for arn in page["taskArns"]
    ]
    by_family: dict[str, list[Mapping[str, Any]]] = {}
    for batch in _batches(arns, TASKS_PER_CALL):
        for task in ecs.describe_tasks(cluster=cluster_arn, tasks=batch)["tasks"]:
            # A service's tasks are in the group "service:<name>"; the service's record counts them.
            if not str(task.get("group", "")).startswith("service:"):
                by_family.setdefault(_family(task["taskDefinitionArn"]), []).append(task)
    for family, tasks in sorted(by_family.items()):
        yield Workload(
            cluster=cluster,
            name=family,
            kind="tasks",
            insights=insights,
            size=sizes.get(tasks[0]["taskDefinitionArn"]),
            running=float(len(tasks)),
            fargate_share=1.0,
            created_at=_first_start(tasks),
            ended_at=_last_stop(tasks),
        )


def _first_start(tasks: Sequence[Mapping[str, Any]]) -> datetime | None:
    # A task is charged from its start (its creation while it is still provisioning).
    starts = [task.get("startedAt") or task.get("createdAt") for task in tasks]
    return min((start for start in starts if start is not None), default=None)


def _last_stop(tasks: Sequence[Mapping[str, Any]]) -> datetime | None:
    # The family has ended only when every one of its tasks has.
    stops: list[datetime | None] = [task.get("stoppedAt") for task in tasks]
    ended = [stop for stop in stops if stop is not None]
    return max(ended) if ended and len(ended) == len(stops) else None


def fargate_share(service: Mapping[str, Any]) -> float:
    """The share of a service's tasks on Fargate: by launch type, else by its capacity providers' weights."""
    strategy = service.get("capacityProviderStrategy") or []
    if not strategy:
        return 1.0 if service.get("launchType") == "FARGATE" else 0.0
    weights = [(item["capacityProvider"], float(item.get("weight", 0))) for item in strategy]
    total = sum(weight for _, weight in weights)
    if total == 0:
        # All weights 0: only the base provider (the first) runs tasks.
        return 1.0 if weights[0][0] in FARGATE_PROVIDERS else 0.0
    return sum(weight for provider, weight in weights if provider in FARGATE_PROVIDERS) / total


# A task definition named with its revision, as services and tasks name theirs: ECS never changes a revision once
# registered (a change registers the next one), so its size is a fact that can be kept as long as the container.
_REVISION_ARN = re.compile(r"arn:[^:]+:ecs:[^:]+:\d{12}:task-definition/[^:/]+:\d+\Z")


class TaskDefinitionSizes:
    """The sizes of task definition revisions described so far by this container, by ARN; safe across threads.

    The ARN names the account and region, so one connection's answer is only ever given for that very revision.
    Kept until ``max_entries`` are held, then started afresh: a bound on what a long-lived container holds.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._sizes: dict[str, TaskSize] = {}

    def get(self, ecs: Any, task_definition: str) -> TaskSize:
        """The size of ``task_definition``, described through ``ecs`` unless this revision is already known."""
        keep = _REVISION_ARN.match(task_definition) is not None
        with self._lock:
            known = self._sizes.get(task_definition) if keep else None
        if known is not None:
            return known
        size = task_size(ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"])
        if keep:
            with self._lock:
                if len(self._sizes) >= self._max_entries:
                    self._sizes.clear()
                self._sizes[task_definition] = size
        return size

    def clear(self) -> None:
        """Forget every revision (tests and benchmarks start from a cold container)."""
        with self._lock:
            self._sizes.clear()


# The container's task definition sizes: Lambda keeps module state between invocations of a warm container.
TASK_DEFINITION_SIZES = TaskDefinitionSizes()


class _TaskSizes:
    """Task definitions' sizes, each described once per discovery, and revisions once per container."""

    def __init__(self, ecs: Any) -> None:
        self._ecs = ecs
        self._sizes: dict[str, TaskSize] = {}

    def get(self, task_definition: str) -> TaskSize:
        if task_definition not in self._sizes:
            self._sizes[task_definition] = TASK_DEFINITION_SIZES.get(self._ecs, task_definition)
        return self._sizes[task_definition]


def task_size(definition: Mapping[str, Any]) -> TaskSize:
    """A Fargate task's size from its task definition (Fargate requires task-level cpu and memory)."""
    platform = definition.get("runtimePlatform") or {}
    architecture = "arm64" if str(platform.get("cpuArchitecture", "X86_64")).upper() == "ARM64" else "x86_64"
    ephemeral = (definition.get("ephemeralStorage") or {}).get("sizeInGiB", INCLUDED_EPHEMERAL_GIB)
    return TaskSize(
        vcpus=float(definition.get("cpu") or 0) / CPU_UNITS_PER_VCPU,
        memory_mib=float(definition.get("memory") or 0),
        architecture=architecture,
        ephemeral_storage_gib=max(float(ephemeral), INCLUDED_EPHEMERAL_GIB),
    )


def _family(task_definition_arn: str) -> str:
    """``arn:...:task-definition/api:3`` -> ``api``."""
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for index in range(0, len(items), size):
        yield list(items[index : index + size])


def measured_peers(workloads: Iterable[Workload]) -> tuple[MeasuredPeer, ...]:
    return tuple(MeasuredPeer(w.dimensions, w.size.vcpus * w.fargate_share, w.running) for w in workloads if w.insights)


def unmeasured_weight(workloads: Iterable[Workload]) -> float:
    """What the workloads without Container Insights weigh in the AWS/Usage share-out: their running vCPUs."""
    return sum(w.running * w.size.vcpus for w in workloads if not w.insights)


def _with_pool(region: str, workloads: Sequence[Workload]) -> list[Resource]:
    peers = measured_peers(workloads)
    unmeasured = [w for w in workloads if not w.insights]
    weight = unmeasured_weight(unmeasured)
    # Nothing running anywhere at collection time: share by task size alone.
    by_size = weight == 0
    total = sum(w.size.vcpus for w in unmeasured) if by_size else weight
    return [_resource(region, w, peers, _share(w, total, by_size)) for w in workloads]


def _share(workload: Workload, total: float, by_size: bool) -> float:
    if workload.insights or total == 0:
        return 0.0
    mine = workload.size.vcpus if by_size else workload.running * workload.size.vcpus
    return mine / total


def _resource(region: str, workload: Workload, peers: tuple[MeasuredPeer, ...], share: float) -> Resource:
    size = workload.size
    return Resource(
        service=Service.ECS,
        region=region,
        resource_id=f"{workload.cluster}/{workload.name}",
        resource_type=f"fargate-{size.architecture}-{size.vcpus:g}vcpu-{size.memory_mib:g}mib",
        attributes={
            "cluster": workload.cluster,
            "kind": workload.kind,
            "insights": workload.insights,
            "dimensions": workload.dimensions,
            "size": size,
            "running": workload.running,
            "fargate_share": workload.fargate_share,
            "usage_share": share,
            "measured_peers": () if workload.insights else peers,
        },
        created_at=workload.created_at,
        ended_at=workload.ended_at,
    )


# --- Metrics ------------------------------------------------------------------------------------------------------


def usage_requests(hour: datetime) -> list[MetricRequest]:
    """The account's Fargate vCPUs in the region over ``hour``, in every documented shape."""
    return [
        MetricRequest(
            USAGE_NAMESPACE,
            "ResourceCount",
            (("Service", "Fargate"), ("Type", "Resource"), *shape),
            "Average",
            PERIOD,
            hour,
            hour + HOUR,
        )
        for shape in USAGE_SHAPES
    ]


def fargate_vcpus(metrics: Mapping[MetricRequest, Sequence[float]], hour: datetime) -> float | None:
    """The account's mean running Fargate vCPUs over ``hour``; None when AWS/Usage gave nothing."""
    totals: dict[str, float] = {}
    for family, request in zip(_SHAPE_FAMILY, usage_requests(hour), strict=True):
        values = metrics.get(request, ())
        if values:
            totals[family] = totals.get(family, 0.0) + fmean(values)
    # Both shapes count the same vCPUs: where both answer, the larger.
    return max(totals.values()) if totals else None


def measured_vcpus(
    peers: Iterable[MeasuredPeer], metrics: Mapping[MetricRequest, Sequence[float]], hour: datetime
) -> float:
    """The Fargate vCPUs the Container Insights workloads explain (their runningCount where they have no data)."""
    total = 0.0
    for peer in peers:
        values = metrics.get(running_tasks_request(peer.dimensions, hour), ())
        total += (fmean(values) if values else peer.running) * peer.vcpus_per_task
    return total


def _task_hours(
    attributes: Mapping[str, Any], metrics: Mapping[MetricRequest, Sequence[float]], hour: datetime
) -> tuple[float, TaskCountSource]:
    """Task-hours on Fargate in the hour, and their source."""
    size: TaskSize = attributes["size"]
    if attributes["insights"]:
        values = metrics.get(running_tasks_request(attributes["dimensions"], hour), ())
        if values:
            return fmean(values) * attributes["fargate_share"], "container_insights"
        return attributes["running"], "running_count"
    account = fargate_vcpus(metrics, hour)
    if account is not None and size.vcpus > 0:
        unexplained = max(0.0, account - measured_vcpus(attributes["measured_peers"], metrics, hour))
        return unexplained * attributes["usage_share"] / size.vcpus, "fargate_usage"
    return attributes["running"], "running_count"


def unexplained_usage_requests(measured_peers: Iterable[MeasuredPeer], hour: datetime) -> list[MetricRequest]:
    """The account's Fargate vCPUs, and the running tasks of the workloads Container Insights measures: what
    shares out the vCPUs those do not explain (ECS's workloads without insights, EKS's Fargate pods)."""
    return [*usage_requests(hour), *(running_tasks_request(peer.dimensions, hour) for peer in measured_peers)]


def running_tasks_request(dimensions: tuple[tuple[str, str], ...], hour: datetime) -> MetricRequest:
    return MetricRequest(INSIGHTS_NAMESPACE, "RunningTaskCount", dimensions, "Average", PERIOD, hour, hour + HOUR)


def _cpu_request(attributes: Mapping[str, Any], hour: datetime) -> MetricRequest:
    return MetricRequest(NAMESPACE, "CPUUtilization", attributes["dimensions"], "Average", PERIOD, hour, hour + HOUR)


SLICE = EcsSlice()
