"""A generic external emissions API, reached over HTTPS with a bearer key (contract in ``docs/providers.md``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from carbonmeter.emissions.providers.api_key import ApiKeySource
from carbonmeter.emissions.providers.base import (
    REASON_BAD_RESPONSE,
    REASON_MISSING,
    REASON_REJECTED,
    Outcome,
    ProviderError,
    Unestimated,
)
from carbonmeter.emissions.providers.builtin import BuiltinProvider
from carbonmeter.emissions.providers.keyed_api import KeyedApiProvider
from carbonmeter.models import LEGACY_FLAT_DEFAULTS, EmissionRecord, Range, Service, UsageRecord
from carbonmeter.services import SLICES, covered_by

NAME: Final = "http"
# The services of the API's contract: those whose slices declare it.
COVERED_SERVICES = covered_by(NAME)
ESTIMATES_PATH = "/v1/estimates"
# Items per request; the contract asks servers to accept at least this many.
BATCH_SIZE = 100
logger = logging.getLogger(__name__)


class UsageItem(BaseModel):
    """One usage record as the API receives it."""

    id: str
    service: str
    region: str
    resource_id: str
    resource_type: str
    hours: float
    vcpus: float | None
    memory_gib: float | None
    gpus: int | None
    cpu_utilization_pct: float | None
    architecture: str | None
    multi_az: bool
    engine: str | None
    storage_gb: float
    storage_type: str | None
    network_out_bytes: float
    memory_mb: int | None
    duration_ms: float
    invocations: float


class EnergyBreakdown(BaseModel):
    model_config = ConfigDict(extra="ignore")

    compute_kwh: float = Field(default=0.0, ge=0)
    memory_kwh: float = Field(default=0.0, ge=0)
    storage_kwh: float = Field(default=0.0, ge=0)
    network_kwh: float = Field(default=0.0, ge=0)


class _Bounds(BaseModel):
    model_config = ConfigDict(extra="ignore")

    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> _Bounds:
        if self.low > self.high:
            raise ValueError("low is above high")
        return self

    def as_range(self) -> Range:
        return Range(low=self.low, high=self.high)


class EstimateItem(BaseModel):
    """The API's answer for one usage item: figures, or an error."""

    model_config = ConfigDict(extra="ignore")

    id: str
    error: str | None = None
    energy_kwh: float | None = Field(default=None, ge=0)
    breakdown: EnergyBreakdown | None = None
    operational_kgco2e: float | None = Field(default=None, ge=0)
    embodied_kgco2e: float = Field(default=0.0, ge=0)
    grid_kgco2e_per_kwh: float | None = Field(default=None, ge=0)
    energy_kwh_range: _Bounds | None = None
    operational_kgco2e_range: _Bounds | None = None
    embodied_kgco2e_range: _Bounds | None = None

    @model_validator(mode="after")
    def _figures_or_error(self) -> EstimateItem:
        if self.error is None and (self.operational_kgco2e is None or (self.energy_kwh is None and not self.breakdown)):
            raise ValueError("an item needs energy_kwh (or breakdown) and operational_kgco2e, or an error")
        return self


class _EstimatesResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    methodology_version: str | None = None
    # Items are validated one by one, so that one malformed item does not discard the others.
    items: list[dict[str, Any]]


def usage_item(item_id: str, usage: UsageRecord) -> UsageItem:
    # The contract's items are flat: every field for every service, at its old default where the service has none.
    details = usage.details.model_dump(exclude={"service"})
    fields = {name: details.get(name, default) for name, default in LEGACY_FLAT_DEFAULTS.items()}
    return UsageItem(
        id=item_id,
        service=usage.service.value,
        region=usage.region,
        resource_id=usage.resource_id,
        resource_type=usage.resource_type,
        hours=usage.hours,
        network_out_bytes=usage.network_out_bytes,
        **{name: value for name, value in fields.items() if name in UsageItem.model_fields},
    )


def estimates_request(usages: Sequence[UsageRecord]) -> dict[str, Any]:
    """The JSON body of one ``POST /v1/estimates``; item ids are the records' positions in ``usages``."""
    return {"items": [usage_item(str(index), usage).model_dump(mode="json") for index, usage in enumerate(usages)]}


def http_record(usage: UsageRecord, item: EstimateItem, methodology_version: str) -> EmissionRecord:
    """The emission record of ``usage`` from the API's item (which must carry figures, not an error)."""
    assert item.operational_kgco2e is not None
    parts = item.breakdown or _single_part(usage.service, item.energy_kwh or 0.0)
    energy = parts.compute_kwh + parts.memory_kwh + parts.storage_kwh + parts.network_kwh
    grid = item.grid_kgco2e_per_kwh
    if grid is None:
        grid = item.operational_kgco2e / energy if energy > 0 else 0.0
    return EmissionRecord.for_usage(
        usage,
        compute_kwh=parts.compute_kwh,
        memory_kwh=parts.memory_kwh,
        storage_kwh=parts.storage_kwh,
        network_kwh=parts.network_kwh,
        operational_kgco2e=item.operational_kgco2e,
        embodied_kgco2e=item.embodied_kgco2e,
        grid_kgco2e_per_kwh=grid,
        methodology_version=methodology_version,
        provider=NAME,
        energy_kwh_range=item.energy_kwh_range.as_range() if item.energy_kwh_range else None,
        operational_kgco2e_range=item.operational_kgco2e_range.as_range() if item.operational_kgco2e_range else None,
        embodied_kgco2e_range=item.embodied_kgco2e_range.as_range() if item.embodied_kgco2e_range else None,
    )


def _single_part(service: Service, energy_kwh: float) -> EnergyBreakdown:
    # Without a breakdown, the energy is the service's main part, as its slice says (storage for volumes, buckets).
    main_part = SLICES[service].main_part
    if main_part == "storage":
        return EnergyBreakdown(storage_kwh=energy_kwh)
    if main_part == "network":
        return EnergyBreakdown(network_kwh=energy_kwh)
    return EnergyBreakdown(compute_kwh=energy_kwh)


class HttpProvider(KeyedApiProvider):
    """The services of its contract from an external emissions API (``docs/providers.md``); others from builtin.

    A service whose slice does not declare ``http`` is not in the API's contract: sending it would only earn a
    refusal and a fallback flag, so its records get the builtin figures directly, unflagged, as Boavizta's do.
    Items go out ``batch_size`` to a request, with the key as a bearer token.
    """

    name = NAME
    covered = COVERED_SERVICES

    def __init__(
        self,
        base_url: str,
        api_key_source: ApiKeySource,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        batch_size: int = BATCH_SIZE,
        builtin: BuiltinProvider | None = None,
    ) -> None:
        super().__init__(base_url, api_key_source, timeout, session, builtin)
        self.batch_size = batch_size

    def chunks(self, usages: list[UsageRecord]) -> list[list[UsageRecord]]:
        return [usages[start : start + self.batch_size] for start in range(0, len(usages), self.batch_size)]

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def estimate_chunk(self, chunk: list[UsageRecord], key: str) -> list[Outcome]:
        response = self.post(ESTIMATES_PATH, estimates_request(chunk), key)
        try:
            body = _EstimatesResponse.model_validate_json(response.content)
        except ValidationError:
            raise ProviderError(REASON_BAD_RESPONSE, "response is not an estimates document") from None
        methodology = body.methodology_version or NAME
        items = items_by_id(body.items)
        outcomes: list[Outcome] = []
        for index, usage in enumerate(chunk):
            item = items.get(str(index))
            if item is None:
                outcomes.append(Unestimated(usage, REASON_MISSING))
            elif isinstance(item, str):
                outcomes.append(Unestimated(usage, item))
            else:
                outcomes.append(http_record(usage, item, methodology))
        return outcomes


def items_by_id(raw_items: list[dict[str, Any]]) -> dict[str, EstimateItem | str]:
    """Valid items by id; an item with an error or malformed figures maps to the reason it is unusable."""
    items: dict[str, EstimateItem | str] = {}
    for raw in raw_items:
        try:
            item = EstimateItem.model_validate(raw)
        except ValidationError:
            item_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(item_id, str):
                items[item_id] = REASON_BAD_RESPONSE
            continue
        if item.error is not None:
            logger.info("emissions API refused item %s: %s", item.id, item.error[:200])
            items[item.id] = REASON_REJECTED
        else:
            items[item.id] = item
    return items
