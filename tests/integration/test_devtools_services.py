"""Every service's workbench part is whole: one test per part, run over the devtools registry.

A new service passes these by adding its devtools module and its registry line; nothing here names a service.
"""

from __future__ import annotations

import inspect
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.retries.standard import ThrottledRetryableChecker

from carbonmeter.aws import ClientFactory
from carbonmeter.collection import REGION_NOT_ENABLED_CODES, api_region
from carbonmeter.models import GLOBAL_REGION, Service
from carbonmeter.services import COMMON_READ_ACTIONS, SLICES
from devtools.aws.server import embedded_aws
from devtools.faults import REGION_NOT_ENABLED, THROTTLING, Faults, instant_backoff, protocol_of, service_id
from devtools.services import (
    CLIENT_FAULTS,
    COMMON_CLIENT_FAULTS,
    DEVTOOLS_SERVICES,
    AccountSeeding,
    RegionSeeding,
    ServiceDevtools,
)
from devtools.services.metrics import MetricWriter
from devtools.soak.fault_plan import FAULTED_SERVICES, OUTAGE_SERVICES

REGION = "eu-west-1"
HOURS = [datetime(2026, 3, 2, 10, tzinfo=UTC) + timedelta(hours=n) for n in range(2)]
COMMON_CLIENTS = {shape.client for shape in COMMON_CLIENT_FAULTS}
AVAILABLE_CLIENTS = frozenset(botocore.session.get_session().get_available_services())

parts = pytest.mark.parametrize("part", list(DEVTOOLS_SERVICES.values()), ids=lambda part: str(part.service))


def test_the_devtools_registry_holds_exactly_the_services_of_the_slices() -> None:
    assert set(DEVTOOLS_SERVICES) == set(SLICES)
    assert all(service is part.service for service, part in DEVTOOLS_SERVICES.items())


@parts
def test_the_part_implements_its_recipe(part: ServiceDevtools[Any]) -> None:
    assert isinstance(part, ServiceDevtools)
    assert not inspect.isabstract(type(part))
    assert part.demo_fleet
    assert 0 <= part.fleet_share <= 1
    assert len(part.scaled(part.demo_fleet, 3)) >= len(part.demo_fleet)


@parts
def test_its_mixed_fleet_has_as_many_resources_as_asked(part: ServiceDevtools[Any]) -> None:
    if part.fleet_share == 0:
        pytest.skip("not part of the mixed fleet")
    # EC2's items are groups: count the instances they launch, for the others one item is one resource.
    for count in (0, 1, 7, 40):
        items = part.mixed(count)
        assert sum(getattr(item, "count", 1) for item in items) == count


@parts
def test_a_part_attaches_to_a_registered_service_that_is_seeded_on_its_own(part: ServiceDevtools[Any]) -> None:
    if part.attaches_to is not None:
        assert part.attaches_to in DEVTOOLS_SERVICES
        assert DEVTOOLS_SERVICES[part.attaches_to].attaches_to is None


@parts
def test_its_fault_shapes_cover_every_api_its_slice_calls(part: ServiceDevtools[Any]) -> None:
    read_actions = {*SLICES[part.service].read_actions, *COMMON_READ_ACTIONS}
    called = {action.split(":")[0] for action in read_actions}
    assert called <= {shape.client for shape in part.clients} | COMMON_CLIENTS
    # A common API (DynamoDB's: the customer's tables and CarbonMeter's own) is declared by the common shape itself
    assert all(shape in COMMON_CLIENT_FAULTS for shape in part.clients if shape.client in COMMON_CLIENTS)


@pytest.mark.parametrize("shape", CLIENT_FAULTS, ids=lambda shape: shape.client)
def test_each_fault_shape_is_the_one_botocore_and_the_collector_recognise(shape: Any) -> None:
    # A real botocore client name (its events may name it otherwise: apigateway's are api-gateway's), with a wire
    # protocol the injector can answer in
    assert shape.client in AVAILABLE_CLIENTS
    assert service_id(shape.client)
    assert protocol_of(shape.client)
    # Throttling that every retry mode retries with backoff, and the collector's "region not enabled"
    assert shape.throttling[0] in ThrottledRetryableChecker._THROTTLED_ERROR_CODES
    if shape.region_not_enabled is not None:
        assert shape.region_not_enabled[0] in REGION_NOT_ENABLED_CODES
    # And the injector and the soak use it
    assert THROTTLING[shape.client] == shape.throttling
    assert REGION_NOT_ENABLED.get(shape.client) == shape.region_not_enabled
    assert shape.client in FAULTED_SERVICES
    assert (shape.client in OUTAGE_SERVICES) is shape.in_customer_regions


@parts
def test_its_recipe_seeds_on_moto_what_its_slice_discovers_even_while_its_apis_throttle(
    part: ServiceDevtools[Any],
) -> None:
    # Given every API the part calls throttling each request once
    faults = Faults(seed=1)
    for shape in {*part.clients, *COMMON_CLIENT_FAULTS}:
        faults.throttle(shape.client, times=1)
    with embedded_aws(REGION), instant_backoff():
        # Standard retries: adaptive mode's client-side rate limiter would sleep after each throttle.
        clients = ClientFactory(hooks=faults.hooks(), retry_mode="standard")
        # When the part (after the service it attaches to, if any) seeds its demo fleet in one region (a global
        # part in ``global``, as seeding and the collector do)
        area = GLOBAL_REGION if part.is_global else REGION
        seeding = _seeding(clients, area)
        host = DEVTOOLS_SERVICES[part.attaches_to] if part.attaches_to else None
        if host:
            host.create(seeding, host.demo_fleet)
        part.create(seeding, part.demo_fleet)
        part.publish(seeding, part.demo_fleet)
        seeding.metrics.flush()
        found = {resource.resource_id for resource in SLICES[part.service].discover(clients, api_region(area))}
    # Then its slice discovers exactly what the recipe says it made, and metric-bearing services published
    # (EC2 lists its stopped instances too, which may have run in a past hour; the seeded fleet's were stopped before
    # its hours, so they are in no hour's records)
    stopped = seeding.stopped_instances if part.service == Service.EC2 else []
    listed = set(seeding.resources[part.service]) | set(stopped)
    assert listed == found != set()
    assert (seeding.metrics.written > 0) is (part.fleet_share > 0)
    # And every API with a fault shape that was called (IAM has none) was throttled and retried
    sent = {key.split(":")[0] for key in faults.sends}
    called = {shape.client for shape in CLIENT_FAULTS if service_id(shape.client) in sent}
    assert {shape.client for shape in part.clients} & called
    assert all(faults.injected_into(client) > 0 for client in called)


def _seeding(clients: ClientFactory, area: str) -> RegionSeeding:
    account = AccountSeeding(clients, clients.client("sts").get_caller_identity()["Account"])
    for other in DEVTOOLS_SERVICES.values():
        other.prepare_account(account)
    metrics = MetricWriter(clients.client("cloudwatch", api_region(area)))
    return RegionSeeding(account, area, HOURS, random.Random(1), peak_hour=12.0, metrics=metrics)
