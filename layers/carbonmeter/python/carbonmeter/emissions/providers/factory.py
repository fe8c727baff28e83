"""The provider a deployment or a CLI run asked for, wrapped so that a failing one falls back to builtin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonmeter.emissions.coefficients import DeploymentChoices, with_choices
from carbonmeter.emissions.providers.base import EmissionsProvider
from carbonmeter.emissions.providers.builtin import BuiltinProvider
from carbonmeter.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from carbonmeter.aws import ClientFactory
    from carbonmeter.emissions.providers.oxygenit import OxygenItProvider


def provider_for(settings: Settings, clients: ClientFactory) -> EmissionsProvider:
    """The provider named by ``settings.emissions_provider``.

    ``boavizta``, ``http`` and ``oxygenit`` come wrapped in a ``FallbackProvider`` (builtin). A provider chosen without
    the settings it needs is a ``ConfigurationError``: a deployment must not silently run builtin instead.
    Nothing is called (not even Secrets Manager) until the first ``estimate``.
    """
    # Every provider's builtin part (fallback, services it does not cover) uses the deployment's coefficients.
    builtin = BuiltinProvider(with_choices(DeploymentChoices(cloudfront_kwh_per_gb=settings.cloudfront_kwh_per_gb)))
    if settings.emissions_provider == "builtin":
        return builtin
    # Imported here, not with the module: only a deployment that chose a remote provider loads them and requests.
    from carbonmeter.emissions.providers.api_key import SecretsManagerKey
    from carbonmeter.emissions.providers.boavizta import BoaviztaProvider
    from carbonmeter.emissions.providers.fallback import FallbackProvider
    from carbonmeter.emissions.providers.http_api import HttpProvider
    from carbonmeter.emissions.providers.transport import retrying_session

    if settings.emissions_provider == "boavizta":
        url = _required(settings.boavizta_url, "boavizta_url", "boavizta")
        boavizta = BoaviztaProvider(url, settings.provider_timeout_seconds, retrying_session(), builtin=builtin)
        return FallbackProvider(boavizta, builtin)
    if settings.emissions_provider == "oxygenit":
        return FallbackProvider(_oxygenit(settings, clients, builtin), builtin)
    url = _required(settings.http_provider_url, "http_provider_url", "http")
    secret_id = _required(settings.http_provider_secret_id, "http_provider_secret_id", "http")
    key = SecretsManagerKey(clients, secret_id)
    http = HttpProvider(url, key, settings.provider_timeout_seconds, retrying_session(), builtin=builtin)
    return FallbackProvider(http, builtin)


def _oxygenit(settings: Settings, clients: ClientFactory, builtin: BuiltinProvider) -> OxygenItProvider:
    from carbonmeter.emissions.providers.api_key import SecretsManagerKey
    from carbonmeter.emissions.providers.oxygenit import OxygenItProvider, ResponseMapping
    from carbonmeter.emissions.providers.transport import retrying_session

    url = _required(settings.oxygenit_url, "oxygenit_url", "oxygenit")
    secret_id = _required(settings.oxygenit_secret_id, "oxygenit_secret_id", "oxygenit")
    return OxygenItProvider(
        url,
        SecretsManagerKey(clients, secret_id),
        settings.provider_timeout_seconds,
        retrying_session(),
        builtin=builtin,
        key_header=settings.oxygenit_key_header,
        mapping=ResponseMapping.from_settings(settings),
    )


def _required(value: str | None, field: str, provider: str) -> str:
    if not value:
        raise ConfigurationError(f"the {provider} emissions provider needs {Settings.env_name(field)}")
    return value
