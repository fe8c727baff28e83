"""Which emissions provider the calculator uses, and the coefficients it may choose, per deployment with CDK context."""

from __future__ import annotations

from typing import get_args

from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from pydantic import ValidationError

from carbonmeter.models import first_error_message
from carbonmeter.settings import Settings
from infra.constants import COEFFICIENT_CONTEXT_KEYS, PROVIDER_CONTEXT_KEYS

# The setting naming the Secrets Manager secret that holds each keyed provider's API key.
_SECRET_FIELDS = {"http": "http_provider_secret_id", "oxygenit": "oxygenit_secret_id"}


class ProviderConfigurationError(ValueError):
    """The provider context does not describe a usable provider."""


class EmissionsProviderConfig(Construct):
    """Reads ``-c emissionsProvider=...`` (and its companions) into the calculator's environment.

    ``builtin`` (the default) needs nothing; ``boavizta`` needs ``boaviztaUrl``; ``http`` needs
    ``httpProviderUrl`` and ``httpProviderSecretId``, the Secrets Manager secret holding the API key,
    which the calculator alone may read; ``oxygenit`` likewise needs ``oxygenitUrl`` and ``oxygenitSecretId``
    (its other ``oxygenit*`` keys have defaults). Coefficient choices (``COEFFICIENT_CONTEXT_KEYS``) and the
    ``oxygenit*`` choices are checked against their settings' bounds, so that a bad one fails the synth rather
    than the calculator.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        values = {
            field: str(value)
            for key, field in (PROVIDER_CONTEXT_KEYS | COEFFICIENT_CONTEXT_KEYS).items()
            if (value := self.node.try_get_context(key)) is not None
        }
        self.provider = values.get("emissions_provider", "builtin")
        _check(self.provider, values)
        _check_coefficients(values)
        self.environment = {Settings.env_name(field): value for field, value in values.items()}
        self.secret = self._secret(values.get(_SECRET_FIELDS.get(self.provider, "")))

    def _secret(self, secret_id: str | None) -> secretsmanager.ISecret | None:
        if secret_id is None:
            return None
        if secret_id.startswith("arn:"):
            return secretsmanager.Secret.from_secret_complete_arn(self, "ApiKey", secret_id)
        return secretsmanager.Secret.from_secret_name_v2(self, "ApiKey", secret_id)

    def grant(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` read the provider's API key, when there is one."""
        if self.secret is not None:
            self.secret.grant_read(grantee)


def _check(provider: str, values: dict[str, str]) -> None:
    known = get_args(Settings.model_fields["emissions_provider"].annotation)
    if provider not in known:
        raise ProviderConfigurationError(f"emissionsProvider must be one of {', '.join(known)}, not {provider!r}")
    needed = {
        "boavizta": ["boavizta_url"],
        "http": ["http_provider_url", "http_provider_secret_id"],
        "oxygenit": ["oxygenit_url", "oxygenit_secret_id"],
    }.get(provider, [])
    missing = [key for key, field in PROVIDER_CONTEXT_KEYS.items() if field in needed and field not in values]
    if missing:
        raise ProviderConfigurationError(f"emissionsProvider={provider} needs -c {' -c '.join(missing)}")
    # The choices with bounds of their own (a unit, a header name) fail the synth rather than the calculator.
    chosen = {field: value for field, value in values.items() if field.startswith("oxygenit_")}
    try:
        Settings.model_validate(chosen)
    except ValidationError as exc:
        raise ProviderConfigurationError(f"invalid provider context: {first_error_message(exc)}") from exc


def _check_coefficients(values: dict[str, str]) -> None:
    chosen = {field: values[field] for field in COEFFICIENT_CONTEXT_KEYS.values() if field in values}
    try:
        Settings.model_validate(chosen)
    except ValidationError as exc:
        raise ProviderConfigurationError(f"invalid coefficient context: {first_error_message(exc)}") from exc
