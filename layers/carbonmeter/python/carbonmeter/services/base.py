"""The shape every service slice has, and the context it is given.

A slice is everything the Lambda functions know about one AWS service: how to find its resources and the metrics
they need (the collector), what its usage records carry (``details_type``), how that usage becomes energy and
embodied carbon (``estimate``), the IAM read actions it needs, and which emissions providers estimate it.
``ServiceSlice`` is the base; each module of this package holds one variant, and ``services/__init__.py``
registers it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, Literal, Protocol, TypeVar, cast

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.emissions.parts import Parts
from carbonmeter.models import HOUR, Service, ServiceUsage, UsageRecord


@dataclass(frozen=True)
class Resource:
    """A resource found by a service's own describe/list APIs."""

    service: Service
    region: str
    resource_id: str
    resource_type: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # When it came to exist (EBS CreateTime, RDS InstanceCreateTime, S3 CreationDate, EC2 LaunchTime) and when it
    # ended (an EC2 instance's stop or termination), where the service says: no record is made for an hour
    # outside [created_at, ended_at), and the hour it starts or ends in is charged its share (``lifetime_share``).
    created_at: datetime | None = None
    ended_at: datetime | None = None


def lifetime_share(resource: Resource, hour: datetime) -> float:
    """The share of ``hour`` (0 to 1) that falls within the resource's known lifetime; 1 when neither end is known.

    The one rule of "nothing before creation, nothing after the end" for every slice: collection drops a
    resource's records for an hour whose running share is 0 and scales ``hours`` of the others by it.
    """
    start = max(hour, resource.created_at) if resource.created_at else hour
    end = min(hour + HOUR, resource.ended_at) if resource.ended_at else hour + HOUR
    return max(0.0, (end - start) / HOUR)


# What the slices of one area's discovery share (``shared_discovery``); None outside a discovery.
_SHARED: ContextVar[dict[Hashable, Any] | None] = ContextVar("shared_discovery", default=None)
T = TypeVar("T")


@contextmanager
def shared_discovery() -> Iterator[None]:
    """One area's discovery (``collection._discover``): inside it, ``shared`` asks for each answer once."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per ``key`` within a ``shared_discovery``; every call outside one computes afresh.

    A failure is not kept: the next slice that asks computes (and fails, or succeeds) again, as it did alone.
    """
    memo = _SHARED.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return cast(T, memo[key])


# Services report sizes in GiB; usage records hold decimal GB.
GB_PER_GIB = 1.073741824

# Where a global service's APIs and CloudWatch metrics are read (CloudFront publishes its metrics there only,
# under the dimension Region=Global); its resources and scope are named ``GLOBAL_REGION`` instead.
GLOBAL_API_REGION = "us-east-1"

# The emissions providers other than the builtin one (which estimates every service), by name.
ProviderName = Literal["boavizta", "http", "oxygenit"]
# The part an external API's single energy figure goes to when it gives no breakdown.
MainPart = Literal["compute", "storage", "network"]


@dataclass(frozen=True)
class HourContext:
    """Which connection-hour is being collected."""

    connection_id: str
    account_id: str
    hour: datetime


@dataclass(frozen=True)
class InstanceView:
    """A usage record seen as EC2 instances, for providers that model instances only (Boavizta, OxygenIT)."""

    instance_type: str
    copies: int
    cpu_utilization_pct: float | None


class ServiceCollector(Protocol):
    """What the collector runs of a slice (``collection.py``); every ``ServiceSlice`` is one."""

    name: Service
    # IAM actions the customer role must allow for this service (discovery and metrics).
    read_actions: tuple[str, ...]
    # Collected once per connection-hour (in ``GLOBAL_API_REGION``, named ``GLOBAL_REGION``), not per region.
    is_global: bool
    # Its resources are collected from the connection's inventory once its APIs no longer list them.
    remembers_gone: bool

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        """Every resource of this service in ``region``, via the service's own APIs."""
        ...

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        """The CloudWatch metrics needed to describe ``resource`` during ``hour``."""
        ...

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        """Normalised usage records of ``resource`` for the hour."""
        ...

    def running_share(
        self, resource: Resource, metrics: Mapping[MetricRequest, Sequence[float]], hour: datetime
    ) -> float:
        """The share of ``hour`` (0 to 1) the resource existed or ran: its records' ``hours``; 0 means no record."""
        ...


DetailsT = TypeVar("DetailsT", bound=ServiceUsage)

# Class attributes every concrete slice must set; checked when the class is defined, so a slice missing one
# fails at import.
_REQUIRED = ("name", "details_type", "read_actions", "providers", "main_part")


class ServiceSlice(ABC, Generic[DetailsT]):
    """One AWS service, whole: collector, usage details, estimator, IAM read actions and provider coverage.

    The ``Service`` member (``name``) is the slice's key everywhere, including registries kept outside the
    Lambda code (the workbench's embedded-AWS recipes and fault shapes are keyed by it).
    """

    name: Service
    details_type: type[DetailsT]
    # IAM actions the customer role must allow for this service (discovery and metrics); reads only.
    read_actions: tuple[str, ...]
    # Providers other than builtin that estimate this service themselves; the rest go to builtin.
    providers: frozenset[ProviderName]
    main_part: MainPart
    # Data files (under ``emissions/data``) the estimator reads beyond the shared ones, for the reader.
    data_files: tuple[str, ...] = ()
    # Why the methodology gives this service no embodied emissions, or None when it models them. Reports show
    # "n/a" (JSON: null and this reason) instead of a zero that would read as certain. The default is "modelled"
    # so that a slice written before this attribute still loads; every slice states its own value all the same
    # (tests/unit/test_service_slices.py), since a silent default would print a new service's zeros as certain.
    embodied_not_modelled: str | None = None
    # The flags this slice raises beyond the shared ones (``emissions/flags.py``), each with the few words a
    # report's footnote gives it; docs/methodology.md#flags documents each (tests/unit/test_report_docs.py).
    flag_meanings: Mapping[str, str] = MappingProxyType({})

    # The resources (ARN patterns) a read action is limited to, for an action that would read more than the slice
    # needs on "*" (API Gateway's GET also reads API keys' values); every action not named here is on "*".
    read_resources: Mapping[str, tuple[str, ...]] = MappingProxyType({})

    # The members of botocore answer shapes discovery reads, by (botocore service name, shape name), named for the
    # large structures of large answers (EC2's ``Instance``): a collection's customer sessions parse only the
    # members some slice names (``aws.TrimmedModelLoader``, ``READ_MEMBERS``), so a member read but not named here
    # would come back missing: tests/integration/test_read_members.py fails a slice that reads one.
    read_members: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType({})

    # A global service (CloudFront) has no regions: the collector runs it once per connection-hour, whatever
    # regions the connection lists, calling ``discover`` with ``GLOBAL_API_REGION``; its resources carry
    # ``GLOBAL_REGION``, and so do its records and its scope.
    is_global: bool = False

    # Whether a resource the inventory remembers (``InventoryStore``) but the APIs no longer list (an EC2 instance
    # terminated more than an hour ago, a deleted volume) is still collected for the hours it lived, from what was
    # last seen of it. Off for slices whose resources share account-wide figures (ECS, EKS), which a remembered
    # resource would count twice.
    remembers_gone: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [name for name in _REQUIRED if not hasattr(cls, name)]
        if missing:
            raise TypeError(f"service slice {cls.__name__} does not set {', '.join(missing)}")

    @abstractmethod
    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        """Every resource of this service in ``region``, via the service's own APIs."""

    @abstractmethod
    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        """The CloudWatch metrics needed to describe ``resource`` during ``hour``."""

    @abstractmethod
    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        """Normalised usage records of ``resource`` for the hour."""

    def running_share(
        self, resource: Resource, metrics: Mapping[MetricRequest, Sequence[float]], hour: datetime
    ) -> float:
        """The share of ``hour`` the resource existed: its lifetime's (``lifetime_share``). A slice with better
        evidence (EC2's CloudWatch sample count) overrides it."""
        return lifetime_share(resource, hour)

    @abstractmethod
    def estimate(self, usage: UsageRecord, details: DetailsT, c: Coefficients) -> Parts:
        """Compute, memory, storage and embodied parts of one usage record (network is added for every service)."""

    def instance(self, usage: UsageRecord, details: DetailsT) -> InstanceView | None:
        """The record as EC2 instances, for a slice that Boavizta or OxygenIT covers; None for the others."""
        return None

    def parts(self, usage: UsageRecord, c: Coefficients) -> Parts:
        return self.estimate(usage, self.details_of(usage), c)

    def instance_of(self, usage: UsageRecord) -> InstanceView | None:
        return self.instance(usage, self.details_of(usage))

    def details_of(self, usage: UsageRecord) -> DetailsT:
        """``usage.details`` typed as this slice's, or TypeError for a record of another service."""
        if not isinstance(usage.details, self.details_type):
            raise TypeError(f"{self.name} slice given {type(usage.details).__name__} details")
        return usage.details

    def record(
        self, resource: Resource, context: HourContext, details: DetailsT, *, network_out_bytes: float = 0.0
    ) -> UsageRecord:
        """A usage record of ``resource`` for the context's connection-hour."""
        return UsageRecord(
            connection_id=context.connection_id,
            account_id=context.account_id,
            hour=context.hour,
            region=resource.region,
            service=resource.service,
            resource_id=resource.resource_id,
            resource_type=resource.resource_type,
            network_out_bytes=network_out_bytes,
            details=details,
        )
