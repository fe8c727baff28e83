"""Domain models shared by the scheduler, collector, calculator and CLI."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union, cast

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    computed_field,
    field_validator,
    model_serializer,
    model_validator,
)

from carbonmeter.collection_windows import MAX_WINDOW_HOURS, WindowHours

HOUR = timedelta(hours=1)
# AWS lists a terminated EC2 instance for about an hour after its termination: a first look up to that long after
# an hour's end still saw everything that ran in it.
TERMINATED_VISIBLE = HOUR


def inventory_covers(since: datetime, hour: datetime) -> bool:
    """Whether a look at the account first taken at ``since`` saw every resource that can have run in ``hour``."""
    return since <= hour + HOUR + TERMINATED_VISIBLE


# A connection's regions may be this word alone: every region its account has enabled.
ALL_REGIONS = "all"
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A tenant is named as a Cognito group is (the ``cognito:groups`` claim): a simple word, so no claim or log
# line has to be escaped.
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Service(StrEnum):
    EC2 = "ec2"
    EBS = "ebs"
    S3 = "s3"
    RDS = "rds"
    LAMBDA = "lambda"
    ELASTICACHE = "elasticache"
    APIGATEWAY = "apigateway"
    DYNAMODB = "dynamodb"
    REDSHIFT = "redshift"
    ECS = "ecs"
    EKS = "eks"
    CLOUDFRONT = "cloudfront"


def _utc_hour(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (end it with Z)")
    value = value.astimezone(UTC)
    if value != value.replace(minute=0, second=0, microsecond=0):
        raise ValueError(f"{value.isoformat()} is not a whole hour")
    return value


def _region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region name")
    return value


def _regions(values: tuple[str, ...]) -> tuple[str, ...]:
    if ALL_REGIONS in values:
        if len(values) > 1:
            raise ValueError(f"{ALL_REGIONS!r} means every enabled region: name it alone, without other regions")
        return values
    for value in values:
        _region(value)
    return values


def _connection_id(value: str) -> str:
    if not _CONNECTION_ID.match(value):
        raise ValueError(f"{value!r} is not a valid connection id (letters, digits, '.', '_', '-'; at most 64)")
    return value


def _tenant(value: str) -> str:
    if not _TENANT.match(value):
        raise ValueError(f"{value!r} is not a valid tenant name (letters, digits, '.', '_', '-'; at most 64)")
    return value


UtcHour = Annotated[datetime, AfterValidator(_utc_hour)]
Region = Annotated[str, AfterValidator(_region)]
ConnectionId = Annotated[str, AfterValidator(_connection_id)]
# Who a connection belongs to: the HTTP API's users read the tenants named in their Cognito groups.
TenantName = Annotated[str, AfterValidator(_tenant)]


def hour_key(hour: datetime) -> str:
    """The canonical text form of an hour, used in keys and messages."""
    return hour.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Every hour start in [start, end)."""
    hours = []
    current = start
    while current < end:
        hours.append(current)
        current += HOUR
    return hours


def first_error_message(exc: ValidationError) -> str:
    """The first problem of a validation error on one line: ``field: message``, without the input value."""
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    # Our own validators raise ValueError, which pydantic prefixes; the reason alone reads as ours.
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def previous_whole_hour(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - HOUR


class Connection(BaseModel):
    """A customer account reached through a read-only role assumed with an ExternalId."""

    model_config = ConfigDict(frozen=True)

    connection_id: ConnectionId
    role_arn: str
    external_id: str = Field(min_length=2, max_length=1224, repr=False)
    # Region names, or ALL_REGIONS alone: every region the account has enabled, looked up at each collection.
    regions: Annotated[tuple[str, ...], AfterValidator(_regions)] = Field(min_length=1)
    services: tuple[Service, ...] = tuple(Service)
    enabled: bool = True
    last_success_at: datetime | None = None
    last_success_hour: str | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    # When the connection was registered: the scheduler collects it from that hour on.
    created_at: datetime | None = None
    # When CarbonMeter first looked at the account: see ConnectionSchedule.
    inventory_since: datetime | None = None
    # The tenant whose users the HTTP API shows it to; None: no API user sees it, only the operator's CLI.
    tenant: TenantName | None = None
    # Hours per collection (collection_windows.WINDOW_HOURS); None: the deployment's (Settings.collection_window_hours).
    window_hours: WindowHours | None = None
    # GetMetricData metrics billed by its last complete collection (in the customer's account): its monitoring cost.
    metrics_per_collection: int | None = None

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str) -> str:
        if not _ROLE_ARN.match(value):
            raise ValueError(f"{value!r} is not an IAM role ARN")
        return value

    @property
    def all_regions(self) -> bool:
        return self.regions == (ALL_REGIONS,)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def account_id(self) -> str:
        match = _ROLE_ARN.match(self.role_arn)
        assert match is not None
        return match.group(1)


class ConnectionSchedule(BaseModel):
    """What the scheduler reads of a connection: when to collect it, never its role or ExternalId."""

    model_config = ConfigDict(frozen=True)

    connection_id: ConnectionId
    enabled: bool = True
    created_at: datetime | None = None
    last_success_at: datetime | None = None
    # When CarbonMeter first looked at the account (its inventory's oldest sighting), kept by each successful
    # collection; None until the first. A backfill's answer counts the hours it cannot fully see.
    inventory_since: datetime | None = None
    # Hours per collection; None: the deployment's.
    window_hours: WindowHours | None = None
    # GetMetricData metrics billed by its last complete collection: what reports show its monitoring cost from.
    metrics_per_collection: int | None = None


SCHEDULE_ATTRIBUTES = tuple(ConnectionSchedule.model_fields)


class ConnectionView(BaseModel):
    """What the HTTP API reads of a connection: what its users may see, never its role or ExternalId."""

    model_config = ConfigDict(frozen=True)

    connection_id: ConnectionId
    tenant: TenantName | None = None
    regions: tuple[str, ...] = ()
    services: tuple[Service, ...] = ()
    enabled: bool = True
    created_at: datetime | None = None
    last_success_at: datetime | None = None
    last_success_hour: str | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    inventory_since: datetime | None = None
    # Its collection window (None: the deployment's), so that its health counts only settled windows' hours, and
    # what one collection requests, for its monitoring cost.
    window_hours: WindowHours | None = None
    metrics_per_collection: int | None = None


VIEW_ATTRIBUTES = tuple(ConnectionView.model_fields)


class _ConnectionHour(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_id: ConnectionId
    hour: UtcHour


class CollectJob(_ConnectionHour):
    """Connection-hours to collect: the body of a collect-queue message; ``hour_count`` consecutive hours from
    ``hour`` (one collection window, read with one GetMetricData query per metric), one unless windowed."""

    hour_count: int = Field(default=1, ge=1, le=MAX_WINDOW_HOURS)

    def hours(self) -> list[datetime]:
        return hours_between(self.hour, self.hour + self.hour_count * HOUR)

    @model_serializer(mode="wrap")
    def _one_hour_as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A job of one hour keeps the body it always had, so messages queued before windows existed still compare.
        return _without_default(handler(self), "hour_count", 1)


class CalculateJob(_ConnectionHour):
    """One connection-hour whose usage is ready to be turned into emissions."""


class BackfillChunk(BaseModel):
    """A run of hours of one connection, expanded into CollectJobs by the collector.

    Long backfills travel as chunks so that no single invocation queues months of jobs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_id: ConnectionId
    start: UtcHour
    end: UtcHour
    # The connection's collection window when the backfill was asked: the chunk expands into jobs of whole windows.
    window_hours: WindowHours = 1

    def hours(self) -> list[datetime]:
        return hours_between(self.start, self.end)

    @model_serializer(mode="wrap")
    def _hourly_as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_default(handler(self), "window_hours", 1)


class SchedulePage(BaseModel):
    """A page of the hourly run's connections, planned by the scheduler's page step: the body of a page-queue message.

    The hourly run only lists the enabled connections and sends them in pages; each page step reads its
    connections' statuses and queues their jobs, so no invocation's work grows with the number of connections.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["schedule_page"] = "schedule_page"
    # The hourly run's clock: every page of a run plans for the same moment.
    reference: AwareDatetime
    # The end of the look-back the run plans (its latest settled hour's end). With the page's connections it keys
    # the page's claim: a retried hourly run of the same hour sends pages already planned, and they queue nothing.
    lookback_end: UtcHour
    page: int = Field(ge=0)
    connections: tuple[ConnectionSchedule, ...] = Field(min_length=1)


def _without_default(data: dict[str, Any], field: str, default: object) -> dict[str, Any]:
    if data.get(field) == default:
        data.pop(field)
    return data


# The pseudo-region of a global service (CloudFront): its records, roll-ups and scope are named with it.
GLOBAL_REGION = "global"


def scope_key(region: str, service: str) -> str:
    """How one region's share of one service is named in collection statuses."""
    return f"{region}/{service}"


class HourStatus(BaseModel):
    """What the last collection of one connection-hour got, and what it is missing.

    ``succeeded`` scopes have stored usage; ``failed`` ones are retried; ``skipped`` ones
    (a region the account has not enabled) are not, and say why.
    """

    model_config = ConfigDict(frozen=True)

    connection_id: str
    hour: datetime
    succeeded: tuple[str, ...] = ()
    failed: dict[str, str] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(default_factory=dict)
    attempts: int = 0
    updated_at: datetime
    # When the calculator last stored the hour's emissions, and why its last attempt failed if it did.
    calculated_at: datetime | None = None
    calculation_error: str | None = None
    # The hour ended before CarbonMeter first looked at the account (the connection's inventory): a resource that
    # had ended by then is invisible to the describe APIs, so the hour's usage may miss some.
    inventory_incomplete: bool = False

    @model_validator(mode="before")
    @classmethod
    def _stored_scopes_are_not_missing(cls, data: Any) -> Any:
        # A scope stored by any attempt has its usage, whatever a later attempt met.
        if isinstance(data, dict):
            stored = sorted(set(data.get("succeeded") or ()))
            failed = {s: e for s, e in (data.get("failed") or {}).items() if s not in stored}
            data = {**data, "succeeded": tuple(stored), "failed": failed}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def complete(self) -> bool:
        return not self.failed

    @computed_field  # type: ignore[prop-decorator]
    @property
    def calculated(self) -> bool:
        """Whether the emissions stored are those of the usage stored: calculated after the last collection."""
        return self.calculated_at is not None and self.calculated_at >= self.updated_at


def hour_state(status: HourStatus | None) -> str:
    """An hour's collection in words, as ``carbonmeter status`` and the HTTP API show it."""
    if status is None:
        return "not collected"
    return "complete" if status.complete else "incomplete"


class ServiceUsage(BaseModel):
    """What one service measures of a resource-hour beyond the common core: the base of every slice's details.

    Each service slice (``carbonmeter/services/<service>.py``) subclasses it with ``service`` narrowed to its own
    ``Literal``: that field is the discriminator of ``UsageRecord.details``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: Service


# The flat fields every UsageRecord had before ``details`` (stored items of that shape are still read), with the
# value a record carried when its service did not set it. Read in the flat shape, a field the record's service has
# no use for is dropped: the collectors never set one, and no estimator ever read one of another service.
LEGACY_FLAT_DEFAULTS: dict[str, Any] = {
    "vcpus": None,
    "memory_gib": None,
    "gpus": None,
    "cpu_utilization_pct": None,
    "architecture": None,
    "cpu_manufacturer": None,
    "gpu_model": None,
    "burstable": False,
    "capacity_units": None,
    "multi_az": False,
    "engine": None,
    "storage_gb": 0.0,
    "storage_type": None,
    "memory_mb": None,
    "duration_ms": 0.0,
    "invocations": 0.0,
}


def _details_types() -> Mapping[Service, type[ServiceUsage]]:
    # Imported when a record is first validated, not when this module is: the slices import these models.
    from carbonmeter.services import DETAILS_TYPES

    return DETAILS_TYPES


@cache
def _details_adapter() -> TypeAdapter[ServiceUsage]:
    """The discriminated union of every registered service's details, tagged by ``service``."""
    members = tuple(_details_types().values())
    # Built from the registry at run time, so the type forms are reached through Any: no static type exists.
    union = cast(Any, Union)[members]
    return TypeAdapter(cast(Any, Annotated)[union, Field(discriminator="service")])


class UsageRecord(BaseModel):
    """What one resource used during one hour: a core common to every service, and the service's ``details``.

    Stored items and keyword calls of the older flat shape (every field at the top level, no ``details``) are
    accepted: the fields of the record's service move into ``details``. An item with ``details`` is the current
    shape; its presence is what tells the two apart.
    """

    model_config = ConfigDict(frozen=True)

    connection_id: str
    account_id: str
    hour: datetime
    region: str
    service: Service
    resource_id: str
    resource_type: str
    hours: float = 1.0
    # Every service can send data out, and the network energy is computed the same way for all of them.
    network_out_bytes: float = 0.0
    details: SerializeAsAny[ServiceUsage]

    @model_validator(mode="before")
    @classmethod
    def _flat_fields_into_details(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "details" in data:
            return data
        try:
            details_type = _details_types()[Service(data["service"])]
        except (KeyError, ValueError):
            return data  # no or unknown service: the field validators say so
        return _nested(data, set(cls.model_fields), details_type)

    @field_validator("details", mode="plain")
    @classmethod
    def _typed_details(cls, value: Any) -> ServiceUsage:
        return _details_adapter().validate_python(value)

    @model_validator(mode="after")
    def _details_of_its_service(self) -> UsageRecord:
        if self.details.service != self.service:
            raise ValueError(f"details of {self.details.service} on a {self.service} record")
        return self


def _nested(data: dict[str, Any], core: set[str], details_type: type[ServiceUsage]) -> dict[str, Any]:
    """A flat record's fields with its service's own moved under ``details``; other keys (pk, sk) stay."""
    nested: dict[str, Any] = {}
    details: dict[str, Any] = {"service": data["service"]}
    for name, value in data.items():
        if name in core:
            nested[name] = value
        elif name in details_type.model_fields:
            details[name] = value
        elif name not in LEGACY_FLAT_DEFAULTS:
            # Not a record field at all (a stored item's pk and sk): left for validation to ignore, as before.
            nested[name] = value
    nested["details"] = details
    return nested


class Range(BaseModel):
    """The low and high bounds around a central figure."""

    model_config = ConfigDict(frozen=True)

    low: float
    high: float


class Figure(BaseModel):
    """A central figure with its bounds (every part at its low, or every part at its high)."""

    model_config = ConfigDict(frozen=True)

    central: float = 0.0
    low: float = 0.0
    high: float = 0.0

    def __add__(self, other: Figure) -> Figure:
        return Figure(central=self.central + other.central, low=self.low + other.low, high=self.high + other.high)

    @classmethod
    def around(cls, central: float, bounds: Range | None) -> Figure:
        """``central`` within ``bounds``; without bounds, the central figure is both."""
        if bounds is None:
            return cls(central=central, low=central, high=central)
        return cls(central=central, low=bounds.low, high=bounds.high)


_Model = TypeVar("_Model", bound=BaseModel)


def unvalidated(model: type[_Model], values: dict[str, Any], fields_set: set[str]) -> _Model:
    """A model of ``values`` that are already of their fields' exact types, every field given, in field order.

    What ``model(**values)`` builds (the same ``__dict__`` and fields set), without validating: the calculator
    builds an emission record for each of thousands of usage records an hour from floats it computed itself, and
    validating them was most of its time (docs/benchmarks.md, "Calculator throughput"). Pydantic's
    ``model_construct`` takes a quarter of a validation's time; this, a seventh. Only for values of
    our own: nothing is checked or converted (an int stays an int), so callers pass floats for float fields.
    ``tests/unit/test_estimate_unchanged.py`` checks that such a record equals and dumps as the validated one.
    """
    built = object.__new__(model)
    object.__setattr__(built, "__dict__", values)
    _set_fields_set(built, fields_set)
    _set_extra(built, None)
    _set_private(built, None)
    return built


# BaseModel's own slots, set through their descriptors: ``object.__setattr__`` on a model takes twice as long.
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class EmissionRecord(BaseModel):
    """Energy and carbon of one resource during one hour.

    The flat figures are the central estimate; the ``*_range`` fields, when set, bound it.
    ``provider`` names what produced the figures (``builtin`` unless another provider did).
    """

    model_config = ConfigDict(frozen=True)

    connection_id: str
    account_id: str
    hour: datetime
    region: str
    service: Service
    resource_id: str
    resource_type: str
    hours: float
    compute_kwh: float
    memory_kwh: float
    storage_kwh: float
    network_kwh: float
    operational_kgco2e: float
    embodied_kgco2e: float
    grid_kgco2e_per_kwh: float
    methodology_version: str
    flags: tuple[str, ...] = ()
    provider: str = "builtin"
    energy_kwh_range: Range | None = None
    operational_kgco2e_range: Range | None = None
    embodied_kgco2e_range: Range | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def energy_kwh(self) -> float:
        return self.compute_kwh + self.memory_kwh + self.storage_kwh + self.network_kwh

    @classmethod
    def of_builtin_figures(
        cls,
        usage: UsageRecord,
        figures: tuple[float, float, float, float, float, float, float],
        methodology_version: str,
        flags: tuple[str, ...],
        ranges: tuple[Range, Range, Range],
    ) -> EmissionRecord:
        """The builtin estimate's record of ``usage``: its figures (compute, memory, storage and network kWh,
        operational and embodied kg, the grid factor), all floats, and the energy, operational and embodied
        ranges, in that order; built without validation (``unvalidated``), as the estimate computed every value."""
        compute, memory, storage, network, operational, embodied, grid = figures
        energy_range, operational_range, embodied_range = ranges
        values = {
            "connection_id": usage.connection_id,
            "account_id": usage.account_id,
            "hour": usage.hour,
            "region": usage.region,
            "service": usage.service,
            "resource_id": usage.resource_id,
            "resource_type": usage.resource_type,
            "hours": usage.hours,
            "compute_kwh": compute,
            "memory_kwh": memory,
            "storage_kwh": storage,
            "network_kwh": network,
            "operational_kgco2e": operational,
            "embodied_kgco2e": embodied,
            "grid_kgco2e_per_kwh": grid,
            "methodology_version": methodology_version,
            "flags": flags,
            "provider": "builtin",
            "energy_kwh_range": energy_range,
            "operational_kgco2e_range": operational_range,
            "embodied_kgco2e_range": embodied_range,
        }
        # The fields a keyword call names: every one but the default ``provider``.
        return unvalidated(cls, values, set(_BUILTIN_FIELDS_SET))

    @classmethod
    def for_usage(cls, usage: UsageRecord, **figures: Any) -> EmissionRecord:
        """The record of ``usage``'s resource and hour carrying ``figures``."""
        return cls(
            connection_id=usage.connection_id,
            account_id=usage.account_id,
            hour=usage.hour,
            region=usage.region,
            service=usage.service,
            resource_id=usage.resource_id,
            resource_type=usage.resource_type,
            hours=usage.hours,
            **figures,
        )


_BUILTIN_FIELDS_SET = frozenset(EmissionRecord.model_fields) - {"provider"}


class Rollup(BaseModel):
    """Hourly totals of one connection for one region and service."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    hour: datetime
    region: str
    service: Service
    resources: int
    energy_kwh: float
    operational_kgco2e: float
    embodied_kgco2e: float
    methodology_version: str
    # How many of the group's resources carry each flag (what shaped their figures); empty in roll-ups stored
    # before it was kept.
    flagged_resources: dict[str, int] = Field(default_factory=dict)
    # The grid factors (kg CO2e per kWh) the group's records used, one per provider that differs; empty in
    # roll-ups stored before it was kept.
    grid_kgco2e_per_kwh: tuple[float, ...] = ()
    # Sums of the records' bounds (full correlation: every record at its low, or at its high); None when no
    # record of the group has bounds. A record without bounds contributes its central figure to both.
    energy_kwh_range: Range | None = None
    operational_kgco2e_range: Range | None = None
    embodied_kgco2e_range: Range | None = None


class CostJob(BaseModel):
    """One connection's daily spend per service and region for the days in [first_day, end_day): a collect-queue body.

    The daily run asks for the last days again every time, because AWS revises recent days (``insights/costs.py``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["cost"] = "cost"
    connection_id: ConnectionId
    # Not ``start``/``end``: a failed message's log line reads those as hours (carbonmeter.batch).
    first_day: date
    end_day: date

    @model_validator(mode="after")
    def _window(self) -> CostJob:
        if self.end_day <= self.first_day:
            raise ValueError("end_day must be after first_day")
        return self


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise ValueError(f"{value!r} is not a month (YYYY-MM)")
    return value


Month = Annotated[str, AfterValidator(_month)]


class ReconcileJob(BaseModel):
    """Fetch AWS's own carbon figures of one connection's month (``YYYY-MM``): a collect-queue body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["reconcile"] = "reconcile"
    connection_id: ConnectionId
    month: Month


class InventoryItem(BaseModel):
    """One resource a connection's collections have seen, as last seen: what a later collection of an hour it lived
    in needs once the service's APIs no longer list it (``carbonmeter/inventory.py``)."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    region: str
    service: Service
    resource_id: str
    resource_type: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    ended_at: datetime | None = None
    first_seen: datetime
    last_seen: datetime
