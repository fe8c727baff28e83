"""Switching the emissions provider, end to end: the deployed pipeline and the CLI, with a real Boavizta API server
and the OxygenIT stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from carbonmeter import cli
from carbonmeter.emissions import METHODOLOGY_VERSION
from carbonmeter.models import HOUR, EmissionRecord, Service, hour_key
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.store import EmissionStore
from devtools.boavizta_server import running_boavizta
from devtools.oxygenit_server import OxygenItStandIn, running_oxygenit
from functions.calculator import handler as calculator
from tests.support.local_cloud import CONNECTION, estimate_args, register

# What Boavizta models; the other services stay with the builtin methodology by design (docs/providers.md).
BOAVIZTA_SERVICES = {Service.EC2, Service.RDS}
# What OxygenIT is asked about (its documented AWS model is instances): the same two.
OXYGENIT_SERVICES = {Service.EC2, Service.RDS}


@pytest.fixture(scope="module")
def boavizta_url() -> Iterator[str]:
    with running_boavizta() as url:
        yield url


@pytest.fixture
def fresh_calculator() -> Iterator[None]:
    # The calculator keeps its provider for the container's life; a redeployment starts a new container.
    calculator._provider.cache_clear()
    yield
    calculator._provider.cache_clear()


def _records(cloud, hour) -> dict[str, EmissionRecord]:
    emissions = EmissionStore(cloud.clients, cloud.settings.emissions_table)
    return {r.resource_id: r for r in emissions.read_hour(CONNECTION, hour)}


def test_a_deployment_switched_to_boavizta_recalculates_a_backfilled_hour_with_its_figures(
    local_cloud, handlers_on, boavizta_url, fresh_calculator
):
    # Given an hour collected and calculated by the default (builtin) deployment
    cloud = local_cloud(hours=1)
    register(cloud)
    hour = cloud.hours[0]
    with handlers_on(cloud):
        cloud.pipeline.run_hour(hour)
    builtin = _records(cloud, hour)
    assert {r.provider for r in builtin.values()} == {"builtin"}
    # When the deployment switches to Boavizta and the hour is backfilled with a manual event
    settings = cloud.settings.model_copy(update={"emissions_provider": "boavizta", "boavizta_url": boavizta_url})
    calculator._provider.cache_clear()
    with use_runtime(Runtime(settings=settings, clients=cloud.handler_clients)):
        cloud.pipeline.invoke_scheduler(
            {"connection_ids": [CONNECTION], "start": hour_key(hour), "end": hour_key(hour + HOUR)}
        )
        collected, calculated = cloud.pipeline.drain_collect(), cloud.pipeline.drain_calculate()
    assert (collected.failed, calculated.failed) == (0, 0)
    boavizta = _records(cloud, hour)
    # Then the same resources are there, once each
    assert boavizta.keys() == builtin.keys()
    # And every instance and database now carries Boavizta's figures and says so, with a range
    modelled = [r for r in boavizta.values() if r.service in BOAVIZTA_SERVICES]
    assert modelled
    for record in modelled:
        assert record.provider == "boavizta", record.flags
        assert record.methodology_version.startswith("boavizta-api-")
        assert record.energy_kwh != pytest.approx(builtin[record.resource_id].energy_kwh)
        assert record.embodied_kgco2e_range is not None
        assert record.embodied_kgco2e_range.low <= record.embodied_kgco2e <= record.embodied_kgco2e_range.high
    # And what Boavizta does not model keeps the builtin figures, named as builtin
    for record in boavizta.values():
        if record.service not in BOAVIZTA_SERVICES:
            assert record.provider == "builtin"
            assert record.methodology_version == METHODOLOGY_VERSION
            assert record.energy_kwh == pytest.approx(builtin[record.resource_id].energy_kwh)


def test_the_cli_provider_option_changes_the_figures_and_names_the_provider(
    local_cloud, boavizta_url, capsys, monkeypatch
):
    # Given a seeded account and a Boavizta server
    cloud = local_cloud(hours=1)
    monkeypatch.setenv("CARBONMETER_BOAVIZTA_URL", boavizta_url)
    # When the same hour is estimated with each provider
    documents = {}
    for provider in ("builtin", "boavizta"):
        assert cli.main(estimate_args(cloud, "--format", "json", "--provider", provider)) == 0
        documents[provider] = json.loads(capsys.readouterr().out)
    # Then Boavizta's run names Boavizta on every instance and database and its totals differ
    for resource in documents["boavizta"]["resources"]:
        expected = ["boavizta"] if resource["service"] in BOAVIZTA_SERVICES else ["builtin"]
        assert resource["providers"] == expected, resource
    assert {p for r in documents["builtin"]["resources"] for p in r["providers"]} == {"builtin"}
    builtin_total, boavizta_total = (documents[p]["totals"]["energy_kwh"] for p in ("builtin", "boavizta"))
    assert boavizta_total != pytest.approx(builtin_total, rel=1e-3)


def test_the_cli_can_choose_oxygenit_whose_stand_in_accepts_every_request_it_sends(local_cloud, capsys, monkeypatch):
    # Given a seeded account, the OxygenIT stand-in and its key in the account's Secrets Manager
    cloud = local_cloud(hours=1)
    stand_in = OxygenItStandIn(key="local-oxygenit-key")
    cloud.clients.client("secretsmanager").create_secret(Name="carbonmeter/oxygenit", SecretString=stand_in.key)
    with running_oxygenit(stand_in) as url:
        monkeypatch.setenv("CARBONMETER_OXYGENIT_URL", url)
        monkeypatch.setenv("CARBONMETER_OXYGENIT_SECRET_ID", "carbonmeter/oxygenit")
        # When the hour is estimated with --provider oxygenit
        assert cli.main(estimate_args(cloud, "--format", "json", "--provider", "oxygenit")) == 0
    document = json.loads(capsys.readouterr().out)
    # Then every instance and database names OxygenIT, every other resource builtin
    for resource in document["resources"]:
        expected = ["oxygenit"] if resource["service"] in OXYGENIT_SERVICES else ["builtin"]
        assert resource["providers"] == expected, resource
    # And the stand-in refused nothing it was sent: every request had the documented shape
    assert stand_in.received
    assert stand_in.rejected == []
