"""The generic HTTP provider against a small emissions API on 127.0.0.1 that implements the documented contract."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
import pytest
from flask import Flask, Response, request
from moto import mock_aws
from werkzeug.serving import BaseWSGIServer, make_server

from carbonmeter import emissions
from carbonmeter.aws import ClientFactory
from carbonmeter.emissions.providers import (
    FALLBACK_FLAG_PREFIX,
    BuiltinProvider,
    FallbackProvider,
    HttpProvider,
    StaticKey,
    provider_for,
)
from carbonmeter.models import Service, UsageRecord
from carbonmeter.services import covered_by
from carbonmeter.settings import Settings
from tests.support.records import ec2_usage

API_KEY = "cm-test-key-5f0b9d"
SECRET_NAME = "carbonmeter/emissions-api"


@dataclass
class FakeEmissionsApi:
    """A tiny vendor API: 0.01 kWh per vCPU-hour and 0.002 kWh per GB-hour, 0.5 kg/kWh, embodied 1 g per hour.

    ``delay`` slows every answer; ``fail_next`` answers that many requests with HTTP 500 first;
    ``refuse`` lists resource ids answered with an item error.
    """

    key: str = API_KEY
    delay: float = 0.0
    fail_next: int = 0
    refuse: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Flask:
        app = Flask("fake-emissions-api")

        @app.post("/v1/estimates")
        def estimates() -> Response:
            with self.lock:
                self.requests.append({"authorization": request.headers.get("Authorization"), "body": request.json})
                failing = self.fail_next > 0
                self.fail_next -= int(failing)
            time.sleep(self.delay)
            if request.headers.get("Authorization") != f"Bearer {self.key}":
                return Response(status=401)
            if failing:
                return Response("busy", status=500)
            items = [self._answer(item) for item in request.json["items"]]
            return Response(
                json.dumps({"methodology_version": "fake-vendor-3.1", "items": items}), mimetype="application/json"
            )

        return app

    def _answer(self, item: dict[str, Any]) -> dict[str, Any]:
        if item["resource_id"] in self.refuse:
            return {"id": item["id"], "error": "resource type not supported"}
        compute = 0.01 * (item["vcpus"] or 0) * item["hours"]
        storage = 0.002 * item["storage_gb"] * item["hours"]
        energy = compute + storage
        return {
            "id": item["id"],
            "energy_kwh": energy,
            "breakdown": {"compute_kwh": compute, "storage_kwh": storage},
            "operational_kgco2e": energy * 0.5,
            "embodied_kgco2e": 0.001 * item["hours"],
            "operational_kgco2e_range": {"low": energy * 0.4, "high": energy * 0.6},
        }


@pytest.fixture
def api() -> Iterator[tuple[FakeEmissionsApi, str]]:
    fake = FakeEmissionsApi()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, fake.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


usage = partial(
    ec2_usage,
    region="eu-west-1",
    resource_id="i-0123456789abcdef0",
    resource_type="m5.xlarge",
    vcpus=4,
    memory_gib=16,
    cpu_utilization_pct=20.0,
)


USAGES = [
    usage(),
    usage(service=Service.EBS, resource_id="vol-1", resource_type="gp3", vcpus=None, storage_gb=200.0),
]


def provider(url: str, timeout: float = 2.0, key: str = API_KEY) -> FallbackProvider:
    return FallbackProvider(HttpProvider(url, StaticKey(key), timeout=timeout))


def test_records_carry_the_apis_figures(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api

    instance, volume = provider(url).estimate(USAGES)

    assert (instance.provider, volume.provider) == ("http", "http")
    assert instance.methodology_version == "fake-vendor-3.1"
    assert instance.compute_kwh == pytest.approx(0.04)
    assert instance.operational_kgco2e == pytest.approx(0.02)
    assert instance.embodied_kgco2e == pytest.approx(0.001)
    assert instance.grid_kgco2e_per_kwh == pytest.approx(0.5)
    assert instance.operational_kgco2e_range is not None
    assert (instance.operational_kgco2e_range.low, instance.operational_kgco2e_range.high) == pytest.approx(
        (0.016, 0.024)
    )
    assert volume.storage_kwh == pytest.approx(0.4)
    assert instance.flags == volume.flags == ()
    # One request carried both usage items, with what the contract lists
    [sent] = fake.requests
    items = sent["body"]["items"]
    assert [(i["id"], i["service"], i["resource_type"]) for i in items] == [
        ("0", "ec2", "m5.xlarge"),
        ("1", "ebs", "gp3"),
    ]
    assert items[0]["cpu_utilization_pct"] == 20.0
    assert items[1]["storage_gb"] == 200.0


def test_a_slow_api_times_out_and_the_hour_is_estimated_by_builtin_flagged(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api
    fake.delay = 1.0

    started = time.monotonic()
    records = provider(url, timeout=0.2).estimate(USAGES)
    elapsed = time.monotonic() - started

    assert records == [
        r.model_copy(update={"flags": (*r.flags, "provider_fallback:http:timeout")})
        for r in emissions.estimate_all(USAGES)
    ]
    # Bounded: four attempts of 0.2 s and the backoff, not the server's pace
    assert elapsed < 4 * 1.0
    assert len(fake.requests) == 4


def test_a_500_is_retried_and_the_retry_is_used(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api
    fake.fail_next = 2

    records = provider(url).estimate(USAGES)

    assert [r.provider for r in records] == ["http", "http"]
    assert len(fake.requests) == 3


def test_an_api_that_keeps_failing_falls_back(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api
    fake.fail_next = 100

    records = provider(url).estimate(USAGES)

    assert [r.provider for r in records] == ["builtin", "builtin"]
    assert all(r.flags[-1] == "provider_fallback:http:server_error" for r in records)
    assert len(fake.requests) == 4


def test_an_api_that_is_down_loses_nothing() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    records = provider(url).estimate(USAGES)

    assert [(r.resource_id, r.provider) for r in records] == [("i-0123456789abcdef0", "builtin"), ("vol-1", "builtin")]
    assert all("provider_fallback:http:unreachable" in r.flags for r in records)


def test_items_the_api_refuses_fall_back_alone(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api
    fake.refuse = {"vol-1"}

    instance, volume = provider(url).estimate(USAGES)

    assert instance.provider == "http"
    assert volume.provider == "builtin"
    assert volume.flags[-1] == "provider_fallback:http:rejected"


def test_a_wrong_key_falls_back_flagged_unauthorized(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api

    records = provider(url, key="not-the-key").estimate(USAGES)

    assert all(r.flags[-1] == "provider_fallback:http:unauthorized" for r in records)
    assert len(fake.requests) == 1, "a key that reads back unchanged is not sent again"


def test_large_batches_are_split_into_requests(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api
    many = [usage(resource_id=f"i-{n}") for n in range(5)]

    records = FallbackProvider(HttpProvider(url, StaticKey(API_KEY), batch_size=2)).estimate(many)

    assert [r.resource_id for r in records] == [u.resource_id for u in many]
    assert all(r.provider == "http" for r in records)
    assert [len(sent["body"]["items"]) for sent in fake.requests] == [2, 2, 1]


@pytest.mark.usefixtures("aws_credentials")
def test_the_key_comes_from_secrets_manager_once_and_never_from_the_environment(
    api: tuple[FakeEmissionsApi, str],
) -> None:
    fake, url = api
    with mock_aws():
        # Given the key stored as a JSON secret, and a deployment naming only the secret
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps({"api_key": API_KEY})
        )
        settings = Settings(emissions_provider="http", http_provider_url=url, http_provider_secret_id=SECRET_NAME)
        clients = ClientFactory(settings=settings)

        # When two hours are estimated by the same provider
        emissions_provider = provider_for(settings, clients)
        assert clients.counter.calls == {}, "the secret is read on first use, not when the provider is made"
        first = emissions_provider.estimate(USAGES)
        second = emissions_provider.estimate(USAGES[:1])

    # Then the key went out as the bearer token, was read once, and is nowhere in the environment
    assert [r.provider for r in (*first, *second)] == ["http"] * 3
    assert {sent["authorization"] for sent in fake.requests} == {f"Bearer {API_KEY}"}
    assert clients.counter.calls == {"secretsmanager:GetSecretValue": 1}
    assert not any(API_KEY in value for value in os.environ.values())
    assert API_KEY not in repr(emissions_provider.primary.__dict__)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("aws_credentials")
def test_a_rotated_key_is_read_again_on_the_first_refusal(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api
    with mock_aws():
        # Given a provider that has read and cached the key
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name=SECRET_NAME, SecretString=json.dumps({"api_key": API_KEY}))
        settings = Settings(emissions_provider="http", http_provider_url=url, http_provider_secret_id=SECRET_NAME)
        clients = ClientFactory(settings=settings)
        emissions_provider = provider_for(settings, clients)
        assert {r.provider for r in emissions_provider.estimate(USAGES[:1])} == {"http"}

        # When the key is rotated, in the secret and at the API, well within the cache's lifetime
        rotated = "cm-test-key-rotated-77a1"
        secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps({"api_key": rotated}))
        fake.key = rotated
        records = emissions_provider.estimate(USAGES[:1])

    # Then the refused request was sent again with the new key, and nothing fell back
    assert [r.provider for r in records] == ["http"]
    assert [sent["authorization"] for sent in fake.requests[-2:]] == [f"Bearer {API_KEY}", f"Bearer {rotated}"]
    assert clients.counter.calls == {"secretsmanager:GetSecretValue": 2}


@pytest.mark.usefixtures("aws_credentials")
def test_a_missing_secret_falls_back_flagged(api: tuple[FakeEmissionsApi, str]) -> None:
    fake, url = api
    with mock_aws():
        settings = Settings(emissions_provider="http", http_provider_url=url, http_provider_secret_id="absent")
        records = provider_for(settings, ClientFactory(settings=settings)).estimate(USAGES)

    assert all(r.flags[-1] == "provider_fallback:http:secret_unavailable" for r in records)
    assert fake.requests == []


def test_a_service_outside_the_apis_contract_is_never_sent_and_gets_builtin_figures_unflagged(
    api: tuple[FakeEmissionsApi, str],
) -> None:
    # Given an hour with an EC2 instance and an ElastiCache cluster, whose slice does not declare the HTTP API
    fake, url = api
    cache = UsageRecord(
        connection_id="c",
        account_id="111122223333",
        hour=USAGES[0].hour,
        region="eu-west-1",
        service=Service.ELASTICACHE,
        resource_id="sessions",
        resource_type="cache.m5.large",
        details={"service": "elasticache", "node_count": 2, "vcpus": 2, "memory_gib": 8, "cpu_utilization_pct": 30},
    )
    assert Service.ELASTICACHE not in covered_by("http")

    # When the HTTP provider estimates the hour
    instance, cluster = provider(url).estimate([USAGES[0], cache])

    # Then only the instance was sent; the cluster has the builtin figures, with no fallback flag
    sent = [item["resource_id"] for call in fake.requests for item in call["body"]["items"]]
    assert sent == [USAGES[0].resource_id]
    assert instance.provider == "http"
    assert cluster == BuiltinProvider().estimate([cache])[0]
    assert not any(flag.startswith(FALLBACK_FLAG_PREFIX) for flag in cluster.flags)
