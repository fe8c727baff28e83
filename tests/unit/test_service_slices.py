"""Every registered service slice is whole: one test per part, run over the whole registry.

A new service passes these by adding its slice and its registry line; nothing here names a service.
"""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from importlib import resources
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from carbonmeter.emissions import estimate, load_coefficients
from carbonmeter.emissions.parts import Parts
from carbonmeter.emissions.providers import boavizta
from carbonmeter.models import EmissionRecord, Service, ServiceUsage, UsageRecord
from carbonmeter.services import COLLECTORS, DETAILS_TYPES, READ_ACTIONS, SLICES, ServiceSlice, covered_by
from carbonmeter.services.base import HourContext, MainPart, ProviderName, Resource

HOUR = datetime(2026, 3, 2, 14, tzinfo=UTC)
CONTEXT = HourContext(connection_id="acme", account_id="111122223333", hour=HOUR)
# Reads only: the customer role may describe, list and get, never change anything. API Gateway names its actions
# by the HTTP method of its management API, where GET is the only one that reads.
READ_ONLY = re.compile(r"^([a-z0-9-]+:(Describe|List|Get)[A-Za-z]*|apigateway:GET)$")

slices = pytest.mark.parametrize("piece", list(SLICES.values()), ids=lambda piece: str(piece.name))


def _minimal_usage(piece: ServiceSlice[Any]) -> UsageRecord:
    """A record of ``piece``'s service with nothing but defaults in its details."""
    resource = Resource(service=piece.name, region="us-east-1", resource_id="r-1", resource_type="minimal")
    return piece.record(resource, CONTEXT, piece.details_type())


def test_every_service_has_exactly_one_slice_under_its_own_name() -> None:
    assert list(SLICES) == list(Service)
    assert all(service is piece.name for service, piece in SLICES.items())
    assert COLLECTORS is SLICES


@slices
def test_the_slice_implements_every_part(piece: ServiceSlice[Any]) -> None:
    assert isinstance(piece, ServiceSlice)
    assert not inspect.isabstract(type(piece))
    for method in ("discover", "metric_requests", "usage", "estimate"):
        assert getattr(type(piece), method) is not getattr(ServiceSlice, method), method


@slices
def test_its_details_type_is_tagged_with_its_service(piece: ServiceSlice[Any]) -> None:
    details = piece.details_type
    assert issubclass(details, ServiceUsage)
    assert details.model_fields["service"].default is piece.name
    assert get_args(details.model_fields["service"].annotation) == (piece.name,)
    assert DETAILS_TYPES[piece.name] is details


@slices
def test_its_details_are_frozen_and_refuse_unknown_fields(piece: ServiceSlice[Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        piece.details_type(not_a_field=1)
    assert piece.details_type.model_config.get("frozen") is True


@slices
def test_a_record_takes_only_its_own_services_details(piece: ServiceSlice[Any]) -> None:
    other = next(s for s in SLICES.values() if s.details_type is not piece.details_type)
    usage = _minimal_usage(piece)

    with pytest.raises(ValidationError, match="details of"):
        UsageRecord.model_validate({**usage.model_dump(), "details": other.details_type().model_dump()})


@slices
def test_its_read_actions_only_read(piece: ServiceSlice[Any]) -> None:
    assert piece.read_actions
    assert all(READ_ONLY.match(action) for action in piece.read_actions), piece.read_actions
    assert set(piece.read_actions) <= set(READ_ACTIONS)


@slices
def test_the_resources_it_limits_actions_to_are_arns_of_its_own_actions(piece: ServiceSlice[Any]) -> None:
    assert set(piece.read_resources) <= set(piece.read_actions)
    for action, patterns in piece.read_resources.items():
        assert patterns, action
        assert all(pattern.split(":")[2] == action.split(":")[0] for pattern in patterns if pattern.startswith("arn:"))
        assert all(pattern.startswith("arn:") for pattern in patterns), patterns


@slices
def test_its_providers_and_main_part_are_known(piece: ServiceSlice[Any]) -> None:
    assert piece.providers <= set(get_args(ProviderName))
    assert piece.main_part in get_args(MainPart)
    for provider in get_args(ProviderName):
        assert (piece.name in covered_by(provider)) is (provider in piece.providers)


@slices
def test_a_slice_boavizta_covers_says_which_instances_it_runs_on(piece: ServiceSlice[Any]) -> None:
    view = piece.instance_of(_minimal_usage(piece))
    assert (view is not None) is (piece.name in boavizta.COVERED_SERVICES)


@slices
def test_the_data_it_names_is_shipped(piece: ServiceSlice[Any]) -> None:
    data = resources.files("carbonmeter.emissions") / "data"
    for name in piece.data_files:
        assert (data / name).is_file(), name
        assert name in (data / "SOURCES.md").read_text(encoding="utf-8"), f"{name} has no entry in SOURCES.md"


@slices
def test_its_estimator_gives_parts_and_the_calculator_a_record(piece: ServiceSlice[Any]) -> None:
    usage = _minimal_usage(piece)

    parts = piece.parts(usage, load_coefficients())
    record = estimate(usage)

    assert isinstance(parts, Parts)
    assert isinstance(record, EmissionRecord)
    assert (record.service, record.resource_id) == (piece.name, "r-1")
    assert record.energy_kwh >= 0
    assert record.embodied_kgco2e >= 0


@slices
def test_it_says_whether_the_methodology_models_its_embodied_emissions(piece: ServiceSlice[Any]) -> None:
    # Stated by the slice itself, not inherited: the base's default would print a new service's zeros as certain
    assert "embodied_not_modelled" in vars(type(piece)), f"{type(piece).__name__} does not set embodied_not_modelled"
    reason = piece.embodied_not_modelled
    if reason is None:
        return
    # A reason a report can print after "n/a: ", and an estimator that indeed gives nothing, bounds included
    assert reason.strip() == reason, reason
    assert len(reason.split()) >= 3, reason
    embodied = piece.parts(_minimal_usage(piece), load_coefficients()).embodied
    assert (embodied.low, embodied.central, embodied.high) == (0.0, 0.0, 0.0)


@slices
def test_its_records_survive_the_stored_round_trip(piece: ServiceSlice[Any]) -> None:
    usage = _minimal_usage(piece)

    stored = UsageRecord.model_validate_json(usage.model_dump_json(exclude_none=True))

    assert stored == usage
    assert type(stored.details) is piece.details_type


@slices
def test_a_flat_keyword_record_puts_its_fields_under_details(piece: ServiceSlice[Any]) -> None:
    usage = _minimal_usage(piece)
    flat = {**usage.model_dump(exclude={"details"}), **usage.details.model_dump(exclude={"service"})}

    assert UsageRecord(**flat) == usage


def test_a_slice_missing_a_part_fails_when_its_class_is_defined() -> None:
    with pytest.raises(TypeError, match="does not set details_type, read_actions"):

        class Incomplete(ServiceSlice[ServiceUsage]):  # pragma: no cover (never instantiated)
            name = Service.EC2
            providers = frozenset()
            main_part = "compute"
