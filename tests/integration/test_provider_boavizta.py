"""The Boavizta provider against a real Boavizta API server on 127.0.0.1 (`devtools.boavizta_server`)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import requests

from carbonmeter import emissions
from carbonmeter.aws import ClientFactory
from carbonmeter.emissions.providers import BoaviztaProvider, FallbackProvider, provider_for
from carbonmeter.emissions.providers.boavizta import region_countries
from carbonmeter.models import Service
from carbonmeter.settings import Settings
from devtools.boavizta_server import running_boavizta
from tests.support.records import ec2_usage


@pytest.fixture(scope="session")
def boavizta_url() -> Iterator[str]:
    with running_boavizta() as url:
        yield url


@pytest.fixture
def provider(boavizta_url: str) -> FallbackProvider:
    return FallbackProvider(BoaviztaProvider(boavizta_url, timeout=30))


usage = partial(ec2_usage, resource_id="i-0123456789abcdef0", architecture="x86_64")


def ask_boavizta(url: str, instance_type: str, country: str, load_pct: float, hours: float = 1.0) -> dict[str, Any]:
    """What the server itself says about an instance, asked directly (the expected figures)."""
    response = requests.post(
        f"{url}/v1/cloud/instance",
        params={"verbose": "true", "duration": str(hours), "criteria": "gwp"},
        json={
            "provider": "aws",
            "instance_type": instance_type,
            "usage": {
                "usage_location": country,
                "time_workload": [{"time_percentage": 100, "load_percentage": load_pct}],
            },
        },
        timeout=30,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_an_ec2_record_carries_boaviztas_figures(boavizta_url: str, provider: FallbackProvider) -> None:
    # Given an m5.large in us-east-1 at 30 % CPU for one hour
    expected = ask_boavizta(boavizta_url, "m5.large", "USA", 30.0)
    gwp = expected["impacts"]["gwp"]
    watts = expected["verbose"]["avg_power"]

    # When the Boavizta provider estimates it
    [record] = provider.estimate([usage()])

    # Then the record is Boavizta's: energy from its average power, CO2e and ranges from its impacts
    assert record.provider == "boavizta"
    assert record.methodology_version == "boavizta-api-2.5.0"
    assert record.flags == ()
    assert record.energy_kwh == pytest.approx(watts["value"] / 1000)
    assert record.energy_kwh_range is not None
    assert (record.energy_kwh_range.low, record.energy_kwh_range.high) == pytest.approx(
        (watts["min"] / 1000, watts["max"] / 1000)
    )
    assert record.memory_kwh == pytest.approx(expected["verbose"]["RAM-1"]["avg_power"]["value"] / 1000)
    assert record.operational_kgco2e == pytest.approx(gwp["use"]["value"])
    assert record.operational_kgco2e_range is not None
    assert (record.operational_kgco2e_range.low, record.operational_kgco2e_range.high) == pytest.approx(
        (gwp["use"]["min"], gwp["use"]["max"])
    )
    assert record.embodied_kgco2e == pytest.approx(gwp["embedded"]["value"])
    assert record.embodied_kgco2e_range is not None
    assert (record.embodied_kgco2e_range.low, record.embodied_kgco2e_range.high) == pytest.approx(
        (gwp["embedded"]["min"], gwp["embedded"]["max"])
    )
    assert record.grid_kgco2e_per_kwh == pytest.approx(expected["verbose"]["CPU-1"]["gwp_factor"]["value"])
    # and they are not the builtin methodology's
    assert record.operational_kgco2e != pytest.approx(emissions.estimate(usage()).operational_kgco2e)


def test_the_region_picks_boaviztas_electricity_mix(boavizta_url: str, provider: FallbackProvider) -> None:
    # Given the same instance in Stockholm and in Mumbai
    sweden, india = provider.estimate([usage(region="eu-north-1"), usage(region="ap-south-1")])

    # Then each carries the grid factor Boavizta has for that country
    for record, country in ((sweden, "SWE"), (india, "IND")):
        expected = ask_boavizta(boavizta_url, "m5.large", country, 30.0)
        assert record.provider == "boavizta"
        assert record.grid_kgco2e_per_kwh == pytest.approx(expected["verbose"]["CPU-1"]["gwp_factor"]["value"])
        assert record.operational_kgco2e == pytest.approx(expected["impacts"]["gwp"]["use"]["value"])
    assert india.operational_kgco2e > 5 * sweden.operational_kgco2e


def test_cpu_load_drives_energy_and_a_missing_one_is_flagged(provider: FallbackProvider) -> None:
    idle, busy, unmeasured, half = provider.estimate(
        [
            usage(cpu_utilization_pct=5.0),
            usage(cpu_utilization_pct=95.0),
            usage(cpu_utilization_pct=None),
            usage(cpu_utilization_pct=50.0),
        ]
    )
    assert idle.energy_kwh < half.energy_kwh < busy.energy_kwh
    # No measurement: Boavizta is asked for 50 %, and the record says so
    assert unmeasured.energy_kwh == pytest.approx(half.energy_kwh)
    assert unmeasured.flags == ("utilisation_default_50pct",)
    assert unmeasured.provider == "boavizta"


def test_an_rds_multi_az_database_is_its_ec2_type_twice_plus_its_storage(
    boavizta_url: str, provider: FallbackProvider
) -> None:
    # Given a classic Multi-AZ PostgreSQL db.m5.large with 100 GB of gp3 in Ireland
    database = usage(
        service=Service.RDS,
        resource_id="orders-db",
        resource_type="db.m5.large",
        region="eu-west-1",
        engine="postgres",
        multi_az=True,
        storage_gb=100.0,
        storage_type="gp3",
        cpu_utilization_pct=40.0,
    )
    instance = ask_boavizta(boavizta_url, "m5.large", "IRL", 40.0)
    builtin_storage_kwh = emissions.estimate(database).storage_kwh

    [record] = provider.estimate([database])

    # Then the instance figures count the standby, and the storage keeps the builtin energy at Boavizta's factor
    grid = instance["verbose"]["CPU-1"]["gwp_factor"]["value"]
    assert record.provider == "boavizta"
    assert builtin_storage_kwh > 0
    assert record.storage_kwh == pytest.approx(builtin_storage_kwh)
    assert record.embodied_kgco2e == pytest.approx(2 * instance["impacts"]["gwp"]["embedded"]["value"])
    assert record.compute_kwh + record.memory_kwh == pytest.approx(2 * instance["verbose"]["avg_power"]["value"] / 1000)
    assert record.operational_kgco2e == pytest.approx(
        2 * instance["impacts"]["gwp"]["use"]["value"] + builtin_storage_kwh * grid
    )


def test_instance_types_boavizta_does_not_know_fall_back_to_builtin_flagged(provider: FallbackProvider) -> None:
    # Given a type Boavizta does not know, and a misspelt one it would silently replace by its closest match
    unknown = usage(resource_id="i-1", resource_type="zz9.plural")
    misspelt = usage(resource_id="i-2", resource_type="m5.larg")

    records = provider.estimate([unknown, misspelt, usage(resource_id="i-3")])

    # Then both come from the builtin methodology, flagged with why; the known one stays Boavizta's
    for record, original in zip(records[:2], (unknown, misspelt), strict=True):
        builtin = emissions.estimate(original)
        assert record.provider == "builtin"
        assert record.flags == (*builtin.flags, "provider_fallback:boavizta:instance_type_unknown")
        assert record.operational_kgco2e == pytest.approx(builtin.operational_kgco2e)
    assert records[2].provider == "boavizta"


def test_services_boavizta_does_not_model_are_builtin_by_design(provider: FallbackProvider) -> None:
    others = [
        usage(service=Service.EBS, resource_id="vol-1", resource_type="gp3", storage_gb=500.0, vcpus=None),
        usage(service=Service.S3, resource_id="logs", resource_type="StandardStorage", storage_gb=2000.0, vcpus=None),
        usage(
            service=Service.LAMBDA,
            resource_id="resize",
            resource_type="function",
            memory_mb=1024,
            duration_ms=3_600_000.0,
            invocations=1200.0,
            vcpus=None,
        ),
    ]

    records = provider.estimate(others)

    # Then they are exactly the builtin estimates, with no fallback flag: nothing failed
    assert records == [emissions.estimate(other) for other in others]
    assert all(record.provider == "builtin" for record in records)
    assert not any(flag.startswith("provider_fallback") for record in records for flag in record.flags)


def test_every_region_country_code_is_one_boavizta_knows(boavizta_url: str) -> None:
    # A code Boavizta does not know would be replaced by its default mix (Europe) without an error
    known = set(requests.get(f"{boavizta_url}/v1/utils/country_code", timeout=30).json().values())
    ours = set(region_countries().values())
    assert ours <= known, f"unknown to Boavizta: {sorted(ours - known)}"


def test_provider_for_a_boavizta_deployment(boavizta_url: str) -> None:
    settings = Settings(emissions_provider="boavizta", boavizta_url=boavizta_url, provider_timeout_seconds=30)

    [instance, volume] = provider_for(settings, ClientFactory(settings=settings)).estimate(
        [usage(), usage(service=Service.EBS, resource_id="vol-1", resource_type="gp3", storage_gb=50.0)]
    )

    assert (instance.provider, volume.provider) == ("boavizta", "builtin")


def test_a_boavizta_server_that_is_down_loses_no_record() -> None:
    # Given a port nothing listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    usages = [usage(resource_id=f"i-{n}") for n in range(3)] + [
        usage(service=Service.EBS, resource_id="vol-1", resource_type="gp3", storage_gb=50.0)
    ]

    records = FallbackProvider(BoaviztaProvider(url, timeout=1)).estimate(usages)

    # Then every record is there, from builtin, the instances flagged
    assert [r.resource_id for r in records] == [u.resource_id for u in usages]
    assert all(r.provider == "builtin" for r in records)
    assert all("provider_fallback:boavizta:unreachable" in r.flags for r in records[:3])
    assert records[3] == emissions.estimate(usages[3])
