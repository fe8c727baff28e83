"""The OxygenIT provider's pure parts: the request a record becomes, the figures read from an answer, its settings."""

from __future__ import annotations

from typing import Any

import pytest

from carbonmeter.emissions.providers import FallbackProvider, OxygenItProvider, ProviderError, provider_for
from carbonmeter.emissions.providers.oxygenit import Figure, ResponseMapping, question
from carbonmeter.models import Service
from carbonmeter.settings import ConfigurationError, Settings
from tests.support.records import ec2_usage


class NoAws:
    """Clients that must not be used: the provider reads its secret lazily."""

    def client(self, service: str, region: str | None = None) -> Any:
        raise AssertionError(f"{service} client created at construction")


@pytest.mark.parametrize(("measured", "load"), [(0.0, 0.0), (37.5, 0.375), (100.0, 1.0), (104.0, 1.0), (-1.0, 0.0)])
def test_the_cpu_load_is_the_measured_utilisation_as_a_fraction_within_0_and_1(measured: float, load: float) -> None:
    asked = question(ec2_usage(cpu_utilization_pct=measured))
    assert asked.operation()["metrics"]["cpuLoad"] == pytest.approx(load)
    assert asked.flags == ()


def test_a_database_is_asked_as_its_ec2_type_with_its_storage_in_bytes() -> None:
    usage = ec2_usage(service=Service.RDS, resource_type="db.r5.large", storage_gb=20.5, storage_type="io1")

    asked = question(usage)

    assert asked.embodied() == {
        "instance": {"type": "r5.large", "region": "us-east-1", "storage": {"size": 20_500_000_000, "type": "io1"}}
    }
    assert asked.copies == 1


def test_a_database_without_a_storage_type_is_sent_the_placeholder() -> None:
    usage = ec2_usage(service=Service.RDS, resource_type="db.r5.large", storage_gb=0.0, storage_type=None)
    assert question(usage).embodied()["instance"]["storage"] == {"size": 0, "type": "gp3"}


@pytest.mark.parametrize(
    ("path", "answer", "expected"),
    [
        ("energy", {"energy": 64.0}, 0.064),
        ("a.b", {"a": {"b": 2}}, 0.002),
    ],
)
def test_a_figure_is_read_at_its_dotted_path_in_its_unit(path: str, answer: object, expected: float) -> None:
    assert Figure(path, 1 / 1000).read(answer) == pytest.approx(expected)


@pytest.mark.parametrize(
    "answer", [{}, {"energy": "64"}, {"energy": -1}, {"energy": True}, {"energy": None}, [64], {"energy": float("inf")}]
)
def test_a_figure_missing_or_not_a_non_negative_number_is_a_bad_response(answer: object) -> None:
    with pytest.raises(ProviderError) as raised:
        Figure("energy", 1.0).read(answer)
    assert raised.value.reason == "bad_response"


def test_the_mapping_defaults_are_wh_and_grams() -> None:
    mapping = ResponseMapping.from_settings(Settings())
    assert mapping == ResponseMapping()
    assert (mapping.energy.path, mapping.energy.scale) == ("energy", 1 / 1000)
    assert (mapping.operational.path, mapping.embodied.path) == ("co2eq", "co2eq")


def test_oxygenit_comes_wrapped_in_a_fallback_with_its_header_without_calling_anything() -> None:
    settings = Settings(
        emissions_provider="oxygenit",
        oxygenit_url="https://oxygenit.example.com/",
        oxygenit_secret_id="s",
        oxygenit_key_header="Authorization",
        oxygenit_embodied_unit="kg",
    )

    chosen = provider_for(settings, NoAws())  # type: ignore[arg-type]

    assert isinstance(chosen, FallbackProvider)
    assert isinstance(chosen.primary, OxygenItProvider)
    assert chosen.primary.base_url == "https://oxygenit.example.com"
    assert chosen.primary.auth_headers("k") == {"Authorization": "k"}
    assert chosen.primary.mapping.embodied.scale == 1.0


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (Settings(emissions_provider="oxygenit", oxygenit_secret_id="s"), "CARBONMETER_OXYGENIT_URL"),
        (Settings(emissions_provider="oxygenit", oxygenit_url="https://x"), "CARBONMETER_OXYGENIT_SECRET_ID"),
    ],
)
def test_oxygenit_chosen_without_its_settings_is_a_configuration_error(settings: Settings, variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        provider_for(settings, NoAws())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "environ",
    [{"CARBONMETER_OXYGENIT_ENERGY_UNIT": "J"}, {"CARBONMETER_OXYGENIT_KEY_HEADER": "x key"}],
)
def test_an_impossible_oxygenit_setting_is_a_configuration_error(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="oxygenit_"):
        Settings.from_env(environ)
