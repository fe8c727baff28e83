"""The OxygenIT provider against the workbench's stand-in, which refuses any request not of the documented shape."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from functools import partial
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.emissions.providers import FALLBACK_FLAG_PREFIX, BuiltinProvider, FallbackProvider, provider_for
from carbonmeter.emissions.providers.api_key import StaticKey
from carbonmeter.emissions.providers.oxygenit import EMBODIED_PATH, OPERATION_PATH, OxygenItProvider, ResponseMapping
from carbonmeter.models import Service, UsageRecord
from carbonmeter.settings import Settings
from devtools.oxygenit_server import OxygenItStandIn, running_oxygenit
from tests.support.records import ec2_usage

API_KEY = "oxygenit-test-key-0c41"
SECRET_NAME = "carbonmeter/oxygenit-api"


@pytest.fixture
def api() -> Iterator[tuple[OxygenItStandIn, str]]:
    stand_in = OxygenItStandIn(key=API_KEY)
    with running_oxygenit(stand_in) as url:
        yield stand_in, url
    # Whatever a test did, the provider never sent a request the documentation does not describe
    assert [r for r in stand_in.rejected if r["kind"] == "shape"] == []


instance = partial(
    ec2_usage,
    region="eu-west-1",
    resource_id="i-0123456789abcdef0",
    resource_type="m5.xlarge",
    vcpus=4,
    memory_gib=16,
    cpu_utilization_pct=20.0,
    network_out_bytes=1_250_000.0,
)
database = partial(
    ec2_usage,
    service=Service.RDS,
    region="eu-west-3",
    resource_id="orders",
    resource_type="db.m5.large",
    cpu_utilization_pct=50.0,
    multi_az=True,
    engine="postgres",
    storage_gb=100.0,
    storage_type="gp3",
)
volume = partial(ec2_usage, service=Service.EBS, resource_id="vol-1", resource_type="gp3", vcpus=None, storage_gb=200.0)


def provider(url: str, timeout: float = 2.0, key: str = API_KEY, **options: Any) -> FallbackProvider:
    return FallbackProvider(OxygenItProvider(url, StaticKey(key), timeout=timeout, **options))


def test_instances_carry_oxygenits_figures_from_requests_of_exactly_the_documented_shape(
    api: tuple[OxygenItStandIn, str],
) -> None:
    stand_in, url = api

    # When an hour with an instance, a Multi-AZ database and a volume is estimated
    ec2, rds, ebs = provider(url).estimate([instance(), database(), volume()])

    # Then the instance has the stand-in's figures: 40 + 120 x 20 % W, 1.25 MB out at 1 Wh/GB, 300 g/kWh, 12 g/h
    assert (ec2.provider, ec2.methodology_version, ec2.flags) == ("oxygenit", "oxygenit-api-1.1", ())
    assert ec2.energy_kwh == pytest.approx(0.06400125)
    assert ec2.operational_kgco2e == pytest.approx(0.06400125 * 0.3)
    assert ec2.embodied_kgco2e == pytest.approx(0.012)
    assert ec2.grid_kgco2e_per_kwh == pytest.approx(0.3)
    # And the database counts its standby: twice (20 + 60 x 50 % W + 100 GB at 0.001 Wh/GB) at 60 g/kWh
    assert rds.provider == "oxygenit"
    assert rds.energy_kwh == pytest.approx(2 * 0.0501)
    assert rds.operational_kgco2e == pytest.approx(2 * 0.0501 * 0.06)
    assert rds.embodied_kgco2e == pytest.approx(2 * 0.006)
    # And the volume, which OxygenIT cannot express as an instance, has the builtin figures, unflagged
    assert ebs == BuiltinProvider().estimate([volume()])[0]
    # And exactly the documented bodies went out, the instance asked as an EC2 type, sizes and transfers in bytes
    assert stand_in.bodies(OPERATION_PATH) == [
        {
            "instance": {"type": "m5.xlarge", "region": "eu-west-1", "storage": {"size": 0, "type": "gp3"}},
            "metrics": {"cpuLoad": 0.2, "dataTransfer": 1_250_000},
        },
        {
            "instance": {
                "type": "m5.large",
                "region": "eu-west-3",
                "storage": {"size": 100_000_000_000, "type": "gp3"},
            },
            "metrics": {"cpuLoad": 0.5, "dataTransfer": 0},
        },
    ]
    assert stand_in.bodies(EMBODIED_PATH) == [
        {"instance": body["instance"]} for body in stand_in.bodies(OPERATION_PATH)
    ]
    assert {entry["key"] for entry in stand_in.received} == {API_KEY}


def test_a_part_hour_is_asked_per_hour_and_scaled_back(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    whole, half = instance(), instance(hours=0.5, network_out_bytes=625_000.0)

    whole_record, half_record = provider(url).estimate([whole, half])

    # The same instance at the same load: the same question, and half the figures for half an hour
    operation = stand_in.bodies(OPERATION_PATH)
    assert operation[0] == operation[1]
    assert half_record.energy_kwh == pytest.approx(whole_record.energy_kwh / 2)
    assert half_record.embodied_kgco2e == pytest.approx(whole_record.embodied_kgco2e / 2)


def test_an_unmeasured_cpu_is_asked_at_half_load_and_flagged(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api

    [record] = provider(url).estimate([instance(cpu_utilization_pct=None)])

    assert stand_in.bodies(OPERATION_PATH)[0]["metrics"]["cpuLoad"] == 0.5
    assert (record.provider, record.flags) == ("oxygenit", ("utilisation_default_50pct",))


def nested_layout(energy_kwh: float, co2e_kg: float) -> dict[str, Any]:
    return {"result": {"energyKwh": energy_kwh, "footprint": {"kgCO2e": co2e_kg}}, "unit": "ignored"}


def test_the_answers_fields_and_units_are_configuration(api: tuple[OxygenItStandIn, str]) -> None:
    # Given an API answering in another layout and units, and a deployment configured for it
    stand_in, url = api
    stand_in.render = nested_layout
    settings = Settings(
        oxygenit_energy_field="result.energyKwh",
        oxygenit_energy_unit="kWh",
        oxygenit_operational_field="result.footprint.kgCO2e",
        oxygenit_operational_unit="kg",
        oxygenit_embodied_field="result.footprint.kgCO2e",
        oxygenit_embodied_unit="kg",
    )

    # When the instance is estimated
    [record] = provider(url, mapping=ResponseMapping.from_settings(settings)).estimate([instance()])

    # Then it has the same figures as with the default layout
    assert record.provider == "oxygenit"
    assert record.energy_kwh == pytest.approx(0.06400125)
    assert record.embodied_kgco2e == pytest.approx(0.012)


def test_an_answer_without_the_configured_fields_falls_back_alone(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    stand_in.render = nested_layout

    ec2, rds = provider(url).estimate([instance(), database()])

    assert [r.provider for r in (ec2, rds)] == ["builtin", "builtin"]
    assert ec2.flags[-1] == rds.flags[-1] == "provider_fallback:oxygenit:bad_response"
    assert len(stand_in.bodies(OPERATION_PATH)) == 2, "a malformed answer does not stop the batch"


def test_an_answer_that_is_not_json_falls_back_bad_response(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    stand_in.garble_next = 1

    ec2, rds = provider(url).estimate([instance(), database()])

    assert ec2.flags[-1] == "provider_fallback:oxygenit:bad_response"
    assert rds.provider == "oxygenit"


def test_a_500_is_retried_and_the_retry_is_used(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    stand_in.fail_next = 2

    [record] = provider(url).estimate([instance()])

    assert record.provider == "oxygenit"
    assert [entry["path"] for entry in stand_in.received] == [OPERATION_PATH] * 3 + [EMBODIED_PATH]


def test_an_api_that_keeps_failing_falls_back_after_four_attempts(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    stand_in.fail_next = 100

    [record] = provider(url).estimate([instance()])

    assert (record.provider, record.flags[-1]) == ("builtin", "provider_fallback:oxygenit:server_error")
    assert len(stand_in.received) == 4


def test_a_slow_api_times_out_once_for_the_whole_batch(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    stand_in.delay = 1.0

    records = provider(url, timeout=0.2).estimate([instance(), database()])

    assert all(r.flags[-1] == "provider_fallback:oxygenit:timeout" for r in records)
    # The first record's request, tried four times; the database is not asked once the API is known to be slow
    assert stand_in.bodies(OPERATION_PATH) == [stand_in.bodies(OPERATION_PATH)[0]] * 4


def test_an_api_that_is_down_loses_nothing() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    records = provider(url).estimate([instance(), database(), volume()])

    assert [r.provider for r in records] == ["builtin"] * 3
    assert [r.flags[-1] for r in records[:2]] == ["provider_fallback:oxygenit:unreachable"] * 2
    assert not any(flag.startswith(FALLBACK_FLAG_PREFIX) for flag in records[2].flags)


def test_an_instance_type_the_api_does_not_know_falls_back_alone_rejected(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api

    unknown, known = provider(url).estimate([instance(resource_type="x9.metal"), instance()])

    assert (unknown.provider, unknown.flags[-1]) == ("builtin", "provider_fallback:oxygenit:rejected")
    assert known.provider == "oxygenit"
    assert [r["reason"] for r in stand_in.rejected] == ["unknown instance type x9.metal"]


def test_a_database_with_no_instance_type_is_not_sent_and_falls_back_flagged(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    serverless = database(resource_type="db.serverless", engine="aurora-postgresql", multi_az=False, capacity_units=2)

    [record] = provider(url).estimate([serverless])

    assert (record.provider, record.flags[-1]) == ("builtin", "provider_fallback:oxygenit:not_expressible")
    assert stand_in.received == []


def test_a_wrong_key_falls_back_unauthorized_without_trying_the_rest(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api

    records = provider(url, key="not-the-key").estimate([instance(), database()])

    assert all(r.flags[-1] == "provider_fallback:oxygenit:unauthorized" for r in records)
    assert len(stand_in.received) == 1


@pytest.mark.usefixtures("aws_credentials")
def test_the_key_comes_from_secrets_manager_in_the_configured_header(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    stand_in.key_header = "X-OxygenIT-Key"
    with mock_aws():
        # Given the key stored as a JSON secret, and a deployment naming the secret and the header
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps({"api_key": API_KEY})
        )
        settings = Settings(
            emissions_provider="oxygenit",
            oxygenit_url=url,
            oxygenit_secret_id=SECRET_NAME,
            oxygenit_key_header="X-OxygenIT-Key",
        )
        clients = ClientFactory(settings=settings)

        # When two hours are estimated by the same provider
        emissions_provider = provider_for(settings, clients)
        assert clients.counter.calls == {}, "the secret is read on first use, not when the provider is made"
        first = emissions_provider.estimate([instance()])
        second = emissions_provider.estimate([database()])

    # Then the key went out in that header, was read once, and is nowhere in the environment
    assert [r.provider for r in (*first, *second)] == ["oxygenit"] * 2
    assert {entry["key"] for entry in stand_in.received} == {API_KEY}
    assert clients.counter.calls == {"secretsmanager:GetSecretValue": 1}
    assert not any(API_KEY in value for value in os.environ.values())


@pytest.mark.usefixtures("aws_credentials")
def test_a_rotated_key_is_read_again_on_the_first_refusal(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    with mock_aws():
        # Given a provider that has read and cached the key
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name=SECRET_NAME, SecretString=API_KEY)
        settings = Settings(emissions_provider="oxygenit", oxygenit_url=url, oxygenit_secret_id=SECRET_NAME)
        clients = ClientFactory(settings=settings)
        emissions_provider = provider_for(settings, clients)
        assert [r.provider for r in emissions_provider.estimate([instance()])] == ["oxygenit"]

        # When the key is rotated, in the secret and at the API, well within the cache's lifetime
        secrets.put_secret_value(SecretId=SECRET_NAME, SecretString="oxygenit-rotated-key")
        stand_in.key = "oxygenit-rotated-key"
        records = emissions_provider.estimate([instance()])

    # Then the refused request was sent again with the new key, and nothing fell back
    assert [r.provider for r in records] == ["oxygenit"]
    assert [entry["key"] for entry in stand_in.received[2:]] == [API_KEY, *["oxygenit-rotated-key"] * 2]
    assert clients.counter.calls == {"secretsmanager:GetSecretValue": 2}


@pytest.mark.usefixtures("aws_credentials")
def test_a_missing_secret_falls_back_flagged(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    with mock_aws():
        settings = Settings(emissions_provider="oxygenit", oxygenit_url=url, oxygenit_secret_id="absent")
        records = provider_for(settings, ClientFactory(settings=settings)).estimate([instance()])

    assert records[0].flags[-1] == "provider_fallback:oxygenit:secret_unavailable"
    assert stand_in.received == []


DOCUMENTED = {
    "instance": {"type": "t2.medium", "region": "ap-northeast-3", "storage": {"size": 4294967296, "type": "sc1"}},
    "metrics": {"cpuLoad": 0.63, "dataTransfer": 4294967296},
}


def _changed(path: tuple[str, ...], value: object) -> dict[str, Any]:
    body = json.loads(json.dumps(DOCUMENTED))
    *parents, last = path
    target = body
    for name in parents:
        target = target[name]
    if value is _DROP:
        del target[last]
    else:
        target[last] = value
    return body


_DROP = object()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_changed(("metrics", "gpuLoad"), 0.1), "metrics.gpuLoad"),
        (_changed(("instance", "storage", "size"), 4.5e9), "instance.storage.size"),
        (_changed(("metrics", "cpuLoad"), 63), "metrics.cpuLoad"),
        (_changed(("metrics", "dataTransfer"), "4 GB"), "metrics.dataTransfer"),
        (_changed(("instance", "storage"), _DROP), "instance.storage"),
        (_changed(("metrics",), _DROP), "metrics"),
    ],
)
def test_the_stand_in_refuses_any_body_but_the_documented_one(
    body: dict[str, Any], reason: str, api: tuple[OxygenItStandIn, str]
) -> None:
    stand_in, url = api
    headers = {"x-api-key": API_KEY}
    # The documentation's own example is accepted
    assert requests.post(url + OPERATION_PATH, json=DOCUMENTED, headers=headers, timeout=5).status_code == 200

    answer = requests.post(url + OPERATION_PATH, json=body, headers=headers, timeout=5)

    assert answer.status_code == 400
    assert answer.json()["reason"].startswith(reason)
    assert stand_in.rejected.pop()["kind"] == "shape"


def test_the_stand_in_lists_the_documented_providers(api: tuple[OxygenItStandIn, str]) -> None:
    _, url = api
    answer = requests.get(url + "/providers", headers={"x-api-key": API_KEY}, timeout=5)
    assert "aws" in answer.json()


def test_records_of_services_outside_oxygenits_coverage_never_reach_it(api: tuple[OxygenItStandIn, str]) -> None:
    stand_in, url = api
    cache = UsageRecord(
        connection_id="c",
        account_id="111122223333",
        hour=instance().hour,
        region="eu-west-1",
        service=Service.ELASTICACHE,
        resource_id="sessions",
        resource_type="cache.m5.large",
        details={"service": "elasticache", "node_count": 2, "vcpus": 2, "memory_gib": 8, "cpu_utilization_pct": 30},
    )

    [record] = provider(url).estimate([cache])

    assert record == BuiltinProvider().estimate([cache])[0]
    assert stand_in.received == []
