"""Instance footprints from the OxygenIT API (ScaleDynamics), ``POST /providers/aws/operation`` and ``/embodied``.

The request is the one OxygenIT's public documentation (API description, v1.1.x) gives; the answer's fields and
units are configuration (``ResponseMapping``), since that documentation does not show them. The services whose
slices declare ``oxygenit`` are sent, one record at a time, as the EC2 instance the slice says they run on; the
others get the builtin figures, unflagged. See ``docs/providers.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field

from carbonmeter.emissions.methodology import BYTES_PER_GB
from carbonmeter.emissions.providers.api_key import ApiKeySource
from carbonmeter.emissions.providers.base import (
    REASON_BAD_RESPONSE,
    Outcome,
    ProviderError,
    Unestimated,
)
from carbonmeter.emissions.providers.builtin import BuiltinProvider
from carbonmeter.emissions.providers.keyed_api import KeyedApiProvider
from carbonmeter.models import EmissionRecord, UsageRecord
from carbonmeter.services import SLICES, covered_by
from carbonmeter.settings import Settings

NAME: Final = "oxygenit"
COVERED_SERVICES = covered_by(NAME)
OPERATION_PATH = "/providers/aws/operation"
EMBODIED_PATH = "/providers/aws/embodied"
# The API version the request shape was taken from; written on every record it produced.
METHODOLOGY_VERSION = "oxygenit-api-1.1"
# The record could not be put in the request's shape (no EC2 instance type, as for Aurora Serverless v2).
REASON_NOT_EXPRESSIBLE = "not_expressible"
UTILISATION_DEFAULT = "utilisation_default_50pct"
DEFAULT_CPU_LOAD = 0.5
# The request needs a storage object; an EC2 instance's volumes are EBS records of their own, so it sends an
# empty volume of this type (and so does a database whose storage type is unknown).
PLACEHOLDER_STORAGE_TYPE = "gp3"
_WH_PER_KWH = 1000.0
_G_PER_KG = 1000.0


class Storage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=0, description="bytes")
    type: str = Field(min_length=1)


class Instance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1)
    region: str = Field(min_length=1)
    storage: Storage


class Metrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpuLoad: float = Field(ge=0, le=1)
    dataTransfer: int = Field(ge=0, description="bytes")


class OperationRequest(BaseModel):
    """The body of ``POST /providers/aws/operation``: one instance and its load during one hour."""

    model_config = ConfigDict(extra="forbid")

    instance: Instance
    metrics: Metrics


class EmbodiedRequest(BaseModel):
    """The body of ``POST /providers/aws/embodied``: the instance alone."""

    model_config = ConfigDict(extra="forbid")

    instance: Instance


@dataclass(frozen=True)
class Figure:
    """Where one figure is in an answer (a dotted path of object members) and how many of the base unit it is."""

    path: str
    scale: float

    def read(self, answer: object) -> float:
        """The figure in the base unit (kWh or kg), or ``ProviderError(bad_response)`` when it is not there."""
        value: object = answer
        for member in self.path.split("."):
            if not isinstance(value, dict) or member not in value:
                raise ProviderError(REASON_BAD_RESPONSE, f"no {self.path} in the answer")
            value = value[member]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ProviderError(REASON_BAD_RESPONSE, f"{self.path} is not a non-negative number")
        return float(value) * self.scale


@dataclass(frozen=True)
class ResponseMapping:
    """Which members of OxygenIT's answers hold energy, operational and embodied CO2e (settings ``oxygenit_*``)."""

    energy: Figure = Figure("energy", 1 / _WH_PER_KWH)
    operational: Figure = Figure("co2eq", 1 / _G_PER_KG)
    embodied: Figure = Figure("co2eq", 1 / _G_PER_KG)

    @classmethod
    def from_settings(cls, settings: Settings) -> ResponseMapping:
        return cls(
            energy=Figure(settings.oxygenit_energy_field, _energy_scale(settings.oxygenit_energy_unit)),
            operational=Figure(settings.oxygenit_operational_field, _mass_scale(settings.oxygenit_operational_unit)),
            embodied=Figure(settings.oxygenit_embodied_field, _mass_scale(settings.oxygenit_embodied_unit)),
        )


def _energy_scale(unit: Literal["Wh", "kWh"]) -> float:
    return 1.0 if unit == "kWh" else 1 / _WH_PER_KWH


def _mass_scale(unit: Literal["g", "kg"]) -> float:
    return 1.0 if unit == "kg" else 1 / _G_PER_KG


@dataclass(frozen=True)
class Question:
    """What is asked about one record: its instance, its hour's load, and how many such instances it stands for."""

    instance: Instance
    metrics: Metrics
    copies: int
    flags: tuple[str, ...]

    def operation(self) -> dict[str, Any]:
        return OperationRequest(instance=self.instance, metrics=self.metrics).model_dump(mode="json")

    def embodied(self) -> dict[str, Any]:
        return EmbodiedRequest(instance=self.instance).model_dump(mode="json")


def question(usage: UsageRecord) -> Question:
    """The requests for a record of a covered service; ``ProviderError(not_expressible)`` when it has no instance."""
    view = SLICES[usage.service].instance_of(usage)
    # An EC2 instance type is <family>.<size>; anything else (Aurora Serverless v2's "serverless") is not one.
    if view is None or "." not in view.instance_type:
        raise ProviderError(REASON_NOT_EXPRESSIBLE, f"{usage.service} {usage.resource_type} is not an EC2 instance")
    details = usage.details.model_dump()
    storage_bytes = round(float(details.get("storage_gb") or 0.0) * BYTES_PER_GB)
    storage_type = details.get("storage_type") or PLACEHOLDER_STORAGE_TYPE
    measured = view.cpu_utilization_pct
    flags: tuple[str, ...]
    if measured is None or math.isnan(measured):
        load, flags = DEFAULT_CPU_LOAD, (UTILISATION_DEFAULT,)
    else:
        load, flags = min(max(measured / 100.0, 0.0), 1.0), ()
    # The API's figures are per hour, so the transfer it is given is the record's per hour.
    transfer = round(usage.network_out_bytes / usage.hours) if usage.hours > 0 else 0
    return Question(
        instance=Instance(
            type=view.instance_type,
            region=usage.region,
            storage=Storage(size=storage_bytes, type=storage_type),
        ),
        metrics=Metrics(cpuLoad=load, dataTransfer=max(transfer, 0)),
        copies=view.copies,
        flags=flags,
    )


def oxygenit_record(
    usage: UsageRecord, asked: Question, operation: object, embodied: object, mapping: ResponseMapping
) -> EmissionRecord:
    """The record from the two answers, which are per instance-hour: scaled by the record's hours and copies."""
    factor = usage.hours * asked.copies
    energy = mapping.energy.read(operation) * factor
    operational = mapping.operational.read(operation) * factor
    embodied_kg = mapping.embodied.read(embodied) * factor
    return EmissionRecord.for_usage(
        usage,
        # One figure for the whole instance (its storage and transfer included): the slice's main part.
        compute_kwh=energy,
        memory_kwh=0.0,
        storage_kwh=0.0,
        network_kwh=0.0,
        operational_kgco2e=operational,
        embodied_kgco2e=embodied_kg,
        grid_kgco2e_per_kwh=operational / energy if energy > 0 else 0.0,
        methodology_version=METHODOLOGY_VERSION,
        flags=asked.flags,
        provider=NAME,
    )


class OxygenItProvider(KeyedApiProvider):
    """EC2 and RDS instances from the OxygenIT API, two requests per record; other services from builtin."""

    name = NAME
    covered = COVERED_SERVICES

    def __init__(
        self,
        base_url: str,
        api_key_source: ApiKeySource,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        builtin: BuiltinProvider | None = None,
        key_header: str = "x-api-key",
        mapping: ResponseMapping | None = None,
    ) -> None:
        super().__init__(base_url, api_key_source, timeout, session, builtin)
        self.key_header = key_header
        self.mapping = mapping or ResponseMapping()

    def chunks(self, usages: list[UsageRecord]) -> list[list[UsageRecord]]:
        # The API answers for one instance per request.
        return [[usage] for usage in usages]

    def auth_headers(self, key: str) -> dict[str, str]:
        return {self.key_header: key}

    def estimate_chunk(self, chunk: list[UsageRecord], key: str) -> list[Outcome]:
        [usage] = chunk
        try:
            asked = question(usage)
        except ProviderError as exc:
            return [Unestimated(usage, exc.reason)]
        operation = self._answer(OPERATION_PATH, asked.operation(), key)
        embodied = self._answer(EMBODIED_PATH, asked.embodied(), key)
        try:
            return [oxygenit_record(usage, asked, operation, embodied, self.mapping)]
        except ProviderError as exc:
            return [Unestimated(usage, exc.reason)]

    def _answer(self, path: str, body: dict[str, Any], key: str) -> object:
        response = self.post(path, body, key)
        try:
            return response.json()
        except ValueError:
            raise ProviderError(REASON_BAD_RESPONSE, f"{path} answered with no JSON") from None


__all__ = [
    "EMBODIED_PATH",
    "METHODOLOGY_VERSION",
    "OPERATION_PATH",
    "REASON_NOT_EXPRESSIBLE",
    "EmbodiedRequest",
    "Figure",
    "OperationRequest",
    "OxygenItProvider",
    "ResponseMapping",
    "question",
]
