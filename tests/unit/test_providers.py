"""Provider logic without any network: the fallback wrapper, request building, response reading and the factory."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, ReadTimeoutError

from carbonmeter import emissions
from carbonmeter.emissions.providers import (
    BoaviztaProvider,
    BuiltinProvider,
    FallbackProvider,
    HttpProvider,
    ProviderError,
    SecretsManagerKey,
    Unestimated,
    provider_for,
    retrying_session,
)
from carbonmeter.emissions.providers.api_key import api_key_from
from carbonmeter.emissions.providers.base import Outcome
from carbonmeter.emissions.providers.boavizta import (
    InstanceImpacts,
    boavizta_record,
    instance_copies,
    instance_query,
    region_countries,
)
from carbonmeter.emissions.providers.http_api import EstimateItem, estimates_request, http_record, items_by_id
from carbonmeter.emissions.providers.transport import transport_error
from carbonmeter.models import EmissionRecord, Service, UsageRecord
from carbonmeter.settings import ConfigurationError, Settings
from devtools.boavizta_server import BoaviztaServerError, running_boavizta
from tests.support.records import ec2_usage

usage = ec2_usage


class ScriptedPrimary:
    """A primary provider whose outcomes (or failure) the test decides."""

    name = "scripted"

    def __init__(self, result: Any) -> None:
        self.result = result

    def try_estimate(self, usages: Sequence[UsageRecord]) -> list[Outcome]:
        if isinstance(self.result, Exception):
            raise self.result
        outcome: list[Outcome] = self.result(list(usages))
        return outcome


def primary_record(u: UsageRecord) -> EmissionRecord:
    return emissions.estimate(u).model_copy(update={"provider": "scripted", "operational_kgco2e": 123.0})


# --- fallback ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(ProviderError("timeout", "read timed out"), "timeout"), (RuntimeError("bug"), "error")],
)
def test_a_failed_batch_is_estimated_by_builtin_and_flagged(failure: Exception, reason: str) -> None:
    usages = [usage(resource_id="i-1"), usage(resource_id="i-2", region="eu-west-1")]

    records = FallbackProvider(ScriptedPrimary(failure)).estimate(usages)

    assert records == [
        r.model_copy(update={"flags": (*r.flags, f"provider_fallback:scripted:{reason}")})
        for r in emissions.estimate_all(usages)
    ]
    assert {r.provider for r in records} == {"builtin"}


def test_only_the_records_the_primary_could_not_estimate_fall_back_and_order_is_kept() -> None:
    usages = [usage(resource_id=f"i-{n}") for n in range(4)]

    def outcomes(us: list[UsageRecord]) -> list[Outcome]:
        return [primary_record(u) if n % 2 == 0 else Unestimated(u, "rejected") for n, u in enumerate(us)]

    records = FallbackProvider(ScriptedPrimary(outcomes)).estimate(usages)

    assert [r.resource_id for r in records] == ["i-0", "i-1", "i-2", "i-3"]
    assert [r.provider for r in records] == ["scripted", "builtin", "scripted", "builtin"]
    assert records[0] == primary_record(usages[0])
    assert records[1].flags[-1] == "provider_fallback:scripted:rejected"
    assert records[1].operational_kgco2e == emissions.estimate(usages[1]).operational_kgco2e


def test_a_primary_that_returns_the_wrong_number_of_outcomes_is_not_trusted() -> None:
    usages = [usage(resource_id="i-1"), usage(resource_id="i-2")]

    records = FallbackProvider(ScriptedPrimary(lambda us: [primary_record(us[0])])).estimate(usages)

    assert [r.provider for r in records] == ["builtin", "builtin"]
    assert all(r.flags[-1] == "provider_fallback:scripted:error" for r in records)


def test_the_fallback_provider_takes_the_primarys_name() -> None:
    assert FallbackProvider(ScriptedPrimary(list)).name == "scripted"
    assert FallbackProvider(ScriptedPrimary(list)).estimate([]) == []


# --- Boavizta request and response -------------------------------------------------------------------------


def test_an_ec2_query_names_the_type_the_country_and_the_load() -> None:
    query, flags = instance_query(usage(region="eu-west-3", cpu_utilization_pct=37.5), region_countries())

    assert flags == ()
    assert query.params() == {"verbose": "true", "duration": "1.0", "criteria": "gwp"}
    assert query.body() == {
        "provider": "aws",
        "instance_type": "m5.large",
        "usage": {"usage_location": "FRA", "time_workload": [{"time_percentage": 100, "load_percentage": 37.5}]},
    }


def test_an_rds_class_is_asked_as_its_ec2_type() -> None:
    query, _ = instance_query(usage(service=Service.RDS, resource_type="db.r6g.xlarge"), region_countries())
    assert query.instance_type == "r6g.xlarge"


@pytest.mark.parametrize(
    ("measured", "load", "flags"), [(None, 50.0, ("utilisation_default_50pct",)), (130.0, 100.0, ())]
)
def test_the_load_is_the_measured_utilisation_bounded_or_50_percent_flagged(
    measured: float | None, load: float, flags: tuple[str, ...]
) -> None:
    query, query_flags = instance_query(usage(cpu_utilization_pct=measured), region_countries())
    assert (query.load_pct, query_flags) == (load, flags)


def test_a_nan_utilisation_counts_as_unmeasured() -> None:
    query, flags = instance_query(usage(cpu_utilization_pct=math.nan), region_countries())
    assert (query.load_pct, flags) == (50.0, ("utilisation_default_50pct",))


def test_a_region_without_a_country_is_not_sent() -> None:
    with pytest.raises(ProviderError) as raised:
        instance_query(usage(region="xx-north-9"), region_countries())
    assert raised.value.reason == "region_unknown"


def test_every_region_in_the_data_has_a_three_letter_code() -> None:
    countries = region_countries()
    assert "us-east-1" in countries
    assert all(len(code) == 3 and code.isupper() for code in countries.values())


@pytest.mark.parametrize(
    ("overrides", "copies"),
    [
        ({}, 1),
        ({"service": Service.RDS, "multi_az": True, "engine": "postgres"}, 2),
        ({"service": Service.RDS, "multi_az": True, "engine": "aurora-postgresql"}, 1),
        ({"service": Service.RDS, "multi_az": False, "engine": "mysql"}, 1),
    ],
)
def test_a_classic_multi_az_database_counts_its_standby(overrides: dict[str, Any], copies: int) -> None:
    assert instance_copies(usage(**overrides)) == copies


# The shape of a Boavizta 2.5.0 answer (verbose=true), trimmed to what the provider reads.
BOAVIZTA_ANSWER: dict[str, Any] = {
    "impacts": {
        "gwp": {
            "unit": "kgCO2eq",
            "embedded": {"value": 0.0005, "min": 0.0003, "max": 0.0008, "warnings": ["End of life is not included"]},
            "use": {"value": 0.004, "min": 0.0036, "max": 0.0048},
        }
    },
    "verbose": {
        "avg_power": {"value": 10.0, "min": 9.0, "max": 12.0, "unit": "W"},
        "usage_location": {"value": "USA", "status": "INPUT"},
        "CPU-1": {"avg_power": {"value": 6.0, "min": 6.0, "max": 6.0}, "gwp_factor": {"value": 0.4}},
        "RAM-1": {"avg_power": {"value": 1.5, "min": 1.5, "max": 1.5}, "gwp_factor": {"value": 0.4}},
        "POWER_SUPPLY-1": {"units": {"value": 2}},
    },
}


def test_a_boavizta_answer_becomes_a_record_with_its_figures_and_ranges() -> None:
    database = usage(service=Service.RDS, resource_type="db.m5.large", multi_az=True, engine="postgres", hours=2.0)
    builtin = emissions.estimate(database).model_copy(update={"storage_kwh": 0.01, "network_kwh": 0.002})

    record = boavizta_record(database, builtin, InstanceImpacts.model_validate(BOAVIZTA_ANSWER), "boavizta-api-2.5.0")

    # Two copies (standby) x watts x 2 hours; RAM power is memory, the rest of the instance is compute
    assert record.memory_kwh == pytest.approx(2 * 1.5 * 2 / 1000)
    assert record.compute_kwh == pytest.approx(2 * 8.5 * 2 / 1000)
    assert (record.storage_kwh, record.network_kwh) == (0.01, 0.002)
    assert record.grid_kgco2e_per_kwh == 0.4
    assert record.operational_kgco2e == pytest.approx(2 * 0.004 + 0.012 * 0.4)
    assert record.embodied_kgco2e == pytest.approx(2 * 0.0005)
    assert record.energy_kwh_range is not None
    assert record.energy_kwh_range.low == pytest.approx(2 * 9.0 * 2 / 1000 + 0.012)
    assert record.energy_kwh_range.high == pytest.approx(2 * 12.0 * 2 / 1000 + 0.012)
    assert record.embodied_kgco2e_range is not None
    assert record.embodied_kgco2e_range.high == pytest.approx(2 * 0.0008)
    assert (record.provider, record.methodology_version) == ("boavizta", "boavizta-api-2.5.0")


def test_a_fuzzy_substitution_is_recognised() -> None:
    answer = {**BOAVIZTA_ANSWER, "warnings": ["Instance 'm5.larg' not found; using closest match 'm5.large'"]}
    assert InstanceImpacts.model_validate(answer).substituted
    assert not InstanceImpacts.model_validate(BOAVIZTA_ANSWER).substituted


# --- HTTP contract -----------------------------------------------------------------------------------------


def test_the_http_request_carries_every_usage_field_keyed_by_position() -> None:
    body = estimates_request([usage(), usage(service=Service.S3, resource_type="StandardStorage", storage_gb=10.0)])

    first, second = body["items"]
    assert (first["id"], second["id"]) == ("0", "1")
    assert first["service"] == "ec2"
    assert set(first) >= {
        "region",
        "resource_id",
        "resource_type",
        "hours",
        "vcpus",
        "memory_gib",
        "cpu_utilization_pct",
        "storage_gb",
        "storage_type",
        "network_out_bytes",
        "memory_mb",
        "duration_ms",
        "invocations",
    }
    assert second["storage_gb"] == 10.0


def test_an_item_without_breakdown_puts_storage_energy_under_storage_and_derives_the_grid_factor() -> None:
    item = EstimateItem(id="0", energy_kwh=2.0, operational_kgco2e=0.5)

    record = http_record(usage(service=Service.EBS, resource_type="gp3"), item, "vendor-1")

    assert (record.compute_kwh, record.storage_kwh) == (0.0, 2.0)
    assert record.grid_kgco2e_per_kwh == 0.25
    assert (record.provider, record.methodology_version) == ("http", "vendor-1")


def test_unusable_items_map_to_their_reason() -> None:
    items = items_by_id(
        [
            {"id": "0", "energy_kwh": 1.0, "operational_kgco2e": 0.3},
            {"id": "1", "error": "unsupported"},
            {"id": "2", "energy_kwh": -1.0, "operational_kgco2e": 0.3},
            {"id": "3", "energy_kwh": 1.0},
            {"no id": True},
        ]
    )
    assert isinstance(items["0"], EstimateItem)
    assert (items["1"], items["2"], items["3"]) == ("rejected", "bad_response", "bad_response")
    assert len(items) == 4


def test_remote_sessions_retry_posts_with_backoff_on_busy_statuses() -> None:
    retry = retrying_session().get_adapter("https://api.example.com").max_retries  # type: ignore[attr-defined]
    assert retry.total == 3
    assert retry.backoff_factor > 0
    assert "POST" in retry.allowed_methods
    assert set(retry.status_forcelist) == {429, 500, 502, 503, 504}


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (requests.ReadTimeout(), "timeout"),
        (requests.ConnectionError(MaxRetryError(None, "/", ReadTimeoutError(None, "/", "read timed out"))), "timeout"),
        (requests.ConnectionError("refused"), "unreachable"),
        (requests.exceptions.RetryError("too many 500 error responses"), "server_error"),
    ],
)
def test_transport_failures_are_told_apart(exc: requests.RequestException, reason: str) -> None:
    assert transport_error(exc).reason == reason


# --- API key -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["k-123", " k-123\n", '{"api_key": "k-123"}', b"k-123"])
def test_the_key_is_the_secret_or_its_api_key_member(value: str | bytes) -> None:
    assert api_key_from(value) == "k-123"


@pytest.mark.parametrize("value", ["", "{}", '{"api_key": ""}', {"api_key": "k"}])
def test_a_secret_without_a_key_is_an_error(value: object) -> None:
    with pytest.raises(ValueError, match=r"key|text"):
        api_key_from(value)


# --- factory -----------------------------------------------------------------------------------------------


class NoAws:
    """Clients that must not be used: providers read their secrets lazily."""

    def client(self, service: str, region: str | None = None) -> Any:
        raise AssertionError(f"{service} client created at construction")


def test_builtin_is_the_default() -> None:
    assert isinstance(provider_for(Settings(), NoAws()), BuiltinProvider)  # type: ignore[arg-type]


def test_boavizta_and_http_come_wrapped_in_a_fallback_without_calling_anything() -> None:
    boavizta = provider_for(
        Settings(emissions_provider="boavizta", boavizta_url="http://127.0.0.1:5000", provider_timeout_seconds=2),
        NoAws(),  # type: ignore[arg-type]
    )
    http = provider_for(
        Settings(emissions_provider="http", http_provider_url="https://api.example.com", http_provider_secret_id="s"),
        NoAws(),  # type: ignore[arg-type]
    )

    assert isinstance(boavizta, FallbackProvider)
    assert isinstance(boavizta.primary, BoaviztaProvider)
    assert boavizta.primary.timeout == 2
    assert isinstance(http, FallbackProvider)
    assert isinstance(http.primary, HttpProvider)
    assert repr(http.primary._api_key) == "SecretsManagerKey('s')"
    assert isinstance(http.primary._api_key, SecretsManagerKey)


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (Settings(emissions_provider="boavizta"), "CARBONMETER_BOAVIZTA_URL"),
        (Settings(emissions_provider="http", http_provider_secret_id="s"), "CARBONMETER_HTTP_PROVIDER_URL"),
        (Settings(emissions_provider="http", http_provider_url="https://x"), "CARBONMETER_HTTP_PROVIDER_SECRET_ID"),
    ],
)
def test_a_provider_chosen_without_its_settings_is_a_configuration_error(settings: Settings, variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        provider_for(settings, NoAws())  # type: ignore[arg-type]


def test_the_boavizta_test_server_says_how_to_install_it_when_missing(tmp_path: Path) -> None:
    with pytest.raises(BoaviztaServerError, match="make install"), running_boavizta(venv=tmp_path / "absent"):
        pass
