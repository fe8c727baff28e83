"""Instance power and embodied impacts from a Boavizta API server (``POST /v1/cloud/instance``).

Boavizta models virtual machines only, so it estimates the services whose slice lists it (EC2 instances and the
instances behind RDS databases) as the instances the slice says they are; every other service is estimated by
the builtin methodology by design. See ``docs/providers.md``.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

from carbonmeter.emissions.providers.base import (
    REASON_BAD_RESPONSE,
    REASON_INSTANCE_TYPE_UNKNOWN,
    REASON_REGION_UNKNOWN,
    REASON_REJECTED,
    REASON_SERVER_ERROR,
    REASON_TIMEOUT,
    REASON_UNREACHABLE,
    Outcome,
    ProviderError,
    Unestimated,
    strict,
)
from carbonmeter.emissions.providers.builtin import BuiltinProvider
from carbonmeter.emissions.providers.transport import retrying_session, transport_error
from carbonmeter.models import EmissionRecord, Range, UsageRecord
from carbonmeter.services import SLICES, covered_by
from carbonmeter.services.base import InstanceView

NAME: Final = "boavizta"
REGION_COUNTRIES_CSV = Path(__file__).with_name("data") / "aws-region-countries.csv"
# Boavizta's own default load when none is measured, and the builtin methodology's too.
DEFAULT_LOAD_PCT = 50.0
UTILISATION_DEFAULT = "utilisation_default_50pct"
COVERED_SERVICES = covered_by(NAME)
# Failures that say the server cannot be reached at all: the rest of the batch is not tried.
_BATCH_BREAKING = frozenset({REASON_TIMEOUT, REASON_UNREACHABLE})
_WATTS_PER_KILOWATT = 1000.0


@lru_cache(maxsize=1)
def region_countries(path: Path = REGION_COUNTRIES_CSV) -> dict[str, str]:
    """AWS region -> ISO 3166-1 alpha-3 country code (see ``data/SOURCES.md``)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["region"]: row["country_iso3"] for row in csv.DictReader(handle)}


@dataclass(frozen=True)
class InstanceQuery:
    """One ``POST /v1/cloud/instance`` call: which instance, where, how loaded and for how long."""

    instance_type: str
    location: str
    load_pct: float
    hours: float

    def params(self) -> dict[str, str]:
        # verbose=true: the instance's average power (hence its energy) is only in the verbose section.
        return {"verbose": "true", "duration": repr(self.hours), "criteria": "gwp"}

    def body(self) -> dict[str, Any]:
        return {
            "provider": "aws",
            "instance_type": self.instance_type,
            "usage": {
                "usage_location": self.location,
                "time_workload": [{"time_percentage": 100, "load_percentage": self.load_pct}],
            },
        }


def instance_query(usage: UsageRecord, countries: dict[str, str]) -> tuple[InstanceQuery, tuple[str, ...]]:
    """The query for a usage record of a covered service, and the flags it implies; ``ProviderError`` if none."""
    location = countries.get(usage.region)
    if location is None:
        raise ProviderError(REASON_REGION_UNKNOWN, usage.region)
    instance = _instance(usage)
    measured = instance.cpu_utilization_pct
    flags: tuple[str, ...] = ()
    if measured is None or measured != measured:  # NaN: no datapoint
        load, flags = DEFAULT_LOAD_PCT, (UTILISATION_DEFAULT,)
    else:
        load = min(max(measured, 0.0), 100.0)
    return InstanceQuery(instance.instance_type, location, load, usage.hours), flags


def instance_copies(usage: UsageRecord) -> int:
    """How many identical instances the record stands for: a classic RDS Multi-AZ database hides a standby."""
    return _instance(usage).copies


def _instance(usage: UsageRecord) -> InstanceView:
    # The slice says which EC2 instances a record runs on (an RDS class db.X runs on X).
    instance = SLICES[usage.service].instance_of(usage)
    if instance is None:
        raise ProviderError(REASON_INSTANCE_TYPE_UNKNOWN, f"{usage.service} records are not instances")
    return instance


class Span(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: float
    min: float
    max: float


class _Gwp(BaseModel):
    model_config = ConfigDict(extra="ignore")

    use: Span
    embedded: Span


class _Impacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    gwp: _Gwp


class InstanceImpacts(BaseModel):
    """The parts of Boavizta's answer CarbonMeter uses."""

    model_config = ConfigDict(extra="ignore")

    impacts: _Impacts
    verbose: dict[str, Any]
    warnings: list[str] = []

    @property
    def substituted(self) -> bool:
        """Boavizta answered for another instance type (its fuzzy match) than the one asked for."""
        return any("not found" in warning for warning in self.warnings)

    def avg_power(self) -> Span:
        """Average power of the instance's share of its host, in watts (CPU, RAM, overheads, local disks)."""
        return Span.model_validate(self.verbose["avg_power"])

    def ram_watts(self) -> float:
        return sum(Span.model_validate(part["avg_power"]).value for name, part in self._components("RAM-"))

    def grid_kgco2e_per_kwh(self) -> float:
        for _, part in self._components(""):
            if "gwp_factor" in part:
                return float(part["gwp_factor"]["value"])
        raise KeyError("gwp_factor")

    def usage_location(self) -> str | None:
        location = self.verbose.get("usage_location")
        return location.get("value") if isinstance(location, dict) else None

    def _components(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        # Components are the verbose keys named like "CPU-1", "RAM-1", each an object.
        return [
            (name, part)
            for name, part in self.verbose.items()
            if name.startswith(prefix) and name[-2:-1] == "-" and isinstance(part, dict)
        ]


def boavizta_record(
    usage: UsageRecord,
    builtin: EmissionRecord,
    impacts: InstanceImpacts,
    methodology_version: str,
    flags: tuple[str, ...] = (),
) -> EmissionRecord:
    """The emission record of an instance from Boavizta's answer.

    Boavizta gives the instance itself (energy, use-phase and embodied CO2e, with min/max); what it does
    not model, the database storage and the network transfer, keeps the builtin energy, converted at
    Boavizta's grid factor so that one record has one factor.
    """
    copies = instance_copies(usage)
    power = impacts.avg_power()
    ram = impacts.ram_watts()
    grid = impacts.grid_kgco2e_per_kwh()
    use, embedded = impacts.impacts.gwp.use, impacts.impacts.gwp.embedded

    def kwh(watts: float) -> float:
        return copies * watts * usage.hours / _WATTS_PER_KILOWATT

    extra_kwh = builtin.storage_kwh + builtin.network_kwh
    extra_kg = extra_kwh * grid
    return EmissionRecord.for_usage(
        usage,
        compute_kwh=kwh(power.value - ram),
        memory_kwh=kwh(ram),
        storage_kwh=builtin.storage_kwh,
        network_kwh=builtin.network_kwh,
        operational_kgco2e=copies * use.value + extra_kg,
        embodied_kgco2e=copies * embedded.value,
        grid_kgco2e_per_kwh=grid,
        methodology_version=methodology_version,
        flags=flags,
        provider=NAME,
        energy_kwh_range=Range(low=kwh(power.min) + extra_kwh, high=kwh(power.max) + extra_kwh),
        operational_kgco2e_range=Range(low=copies * use.min + extra_kg, high=copies * use.max + extra_kg),
        embodied_kgco2e_range=Range(low=copies * embedded.min, high=copies * embedded.max),
    )


class _RecordRejected(ProviderError):
    """Boavizta answered, but not with figures for this record."""


class BoaviztaProvider:
    """EC2 and RDS instances from a Boavizta API server; other services from the builtin methodology."""

    name = NAME

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        builtin: BuiltinProvider | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session or retrying_session()
        self._builtin = builtin or BuiltinProvider()
        self._countries = region_countries()
        self._version: str | None = None
        self._lock = threading.Lock()

    def estimate(self, usages: Sequence[UsageRecord]) -> list[EmissionRecord]:
        """Every record, or ``ProviderError`` for the first one Boavizta cannot estimate (no fallback)."""
        return strict(self, usages)

    def try_estimate(self, usages: Sequence[UsageRecord]) -> list[Outcome]:
        usages = list(usages)
        # The builtin figures cover the services Boavizta does not, and the storage and network of instances.
        builtin_records = self._builtin.estimate(usages)
        answers: dict[InstanceQuery, InstanceImpacts] = {}
        broken: ProviderError | None = None
        outcomes: list[Outcome] = []
        for usage, builtin in zip(usages, builtin_records, strict=True):
            if usage.service not in COVERED_SERVICES:
                outcomes.append(builtin)
            elif broken is not None:
                outcomes.append(Unestimated(usage, broken.reason))
            else:
                try:
                    outcomes.append(self._instance_record(usage, builtin, answers))
                except _RecordRejected as exc:
                    outcomes.append(Unestimated(usage, exc.reason))
                except ProviderError as exc:
                    outcomes.append(Unestimated(usage, exc.reason))
                    if exc.reason in _BATCH_BREAKING:
                        broken = exc
        return outcomes

    def _instance_record(
        self, usage: UsageRecord, builtin: EmissionRecord, answers: dict[InstanceQuery, InstanceImpacts]
    ) -> EmissionRecord:
        try:
            query, flags = instance_query(usage, self._countries)
        except ProviderError as exc:
            raise _RecordRejected(exc.reason, str(exc)) from None
        version = self._methodology_version()
        if query not in answers:
            answers[query] = self._ask(query)
        try:
            return boavizta_record(usage, builtin, answers[query], version, flags)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise _RecordRejected(REASON_BAD_RESPONSE, type(exc).__name__) from None

    def _methodology_version(self) -> str:
        with self._lock:
            if self._version is None:
                response = self._request("GET", "/v1/utils/version")
                # An answer without a version still names the provider; the instance calls tell what works.
                self._version = f"boavizta-api-{response.json()}" if response.ok else "boavizta-api"
            return self._version

    def _ask(self, query: InstanceQuery) -> InstanceImpacts:
        response = self._request("POST", "/v1/cloud/instance", params=query.params(), json=query.body())
        if response.status_code == 404:
            raise _RecordRejected(REASON_INSTANCE_TYPE_UNKNOWN, query.instance_type)
        if 400 <= response.status_code < 500:
            raise _RecordRejected(REASON_REJECTED, f"HTTP {response.status_code} for {query.instance_type}")
        if response.status_code >= 500:
            raise _RecordRejected(REASON_SERVER_ERROR, f"HTTP {response.status_code} for {query.instance_type}")
        try:
            impacts = InstanceImpacts.model_validate_json(response.content)
        except ValidationError:
            raise _RecordRejected(REASON_BAD_RESPONSE, query.instance_type) from None
        if impacts.substituted:
            raise _RecordRejected(REASON_INSTANCE_TYPE_UNKNOWN, query.instance_type)
        if impacts.usage_location() != query.location:
            raise _RecordRejected(REASON_REGION_UNKNOWN, query.location)
        return impacts

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The response (any status), or ``ProviderError`` when no answer came after the retries."""
        try:
            return self._session.request(method, self.base_url + path, timeout=(self.timeout, self.timeout), **kwargs)
        except requests.RequestException as exc:
            error = transport_error(exc)
            if error.reason in _BATCH_BREAKING:
                raise error from None
            raise _RecordRejected(error.reason, str(error)) from None
