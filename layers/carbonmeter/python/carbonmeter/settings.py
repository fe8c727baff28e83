"""Runtime configuration, read once from the environment into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "CARBONMETER_"


class ConfigurationError(RuntimeError):
    """The environment does not describe a usable configuration."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    connections_table: str = "carbonmeter-connections"
    usage_table: str = "carbonmeter-usage"
    emissions_table: str = "carbonmeter-emissions"
    collect_queue_url: str | None = None
    calculate_queue_url: str | None = None
    region: str = "us-east-1"
    # Regions of one connection are collected concurrently, bounded so that a
    # connection with every region enabled stays inside CloudWatch's quota.
    region_workers: int = Field(default=8, ge=1, le=32)
    # Retries of calls into customer accounts (CarbonMeter's own resources use standard mode).
    retry_mode: Literal["standard", "adaptive"] = "adaptive"
    # Attempts per call, the first included.
    max_attempts: int = Field(default=8, ge=1, le=20)
    # The hourly run re-queues hours missed within this window (CloudWatch keeps hourly data 455 days).
    lookback_hours: int = Field(default=72, ge=1, le=455 * 24)
    # An incomplete hour is queued again once its own message's retries are over.
    retry_incomplete_after_hours: int = Field(default=3, ge=1)
    # A connection with no successful hour for this long counts in the StaleConnections metric.
    stale_after_hours: int = Field(default=6, ge=1)
    # CloudWatch publishes an hour's last datapoints a few minutes after it ends (5-minute metrics arrive
    # up to about ten minutes late): an hour is collected only once this many minutes have passed since its end.
    settle_minutes: int = Field(default=10, ge=0, le=180)
    # Long manual backfills travel as chunks of this many hours, expanded by the collector.
    backfill_chunk_hours: int = Field(default=168, ge=1, le=1000)
    role_session_name: str = "CarbonMeterCollector"
    # Where the calculator gets its coefficients: the project's own data (offline), a Boavizta
    # API server, or a generic external emissions API; the last two fall back to builtin.
    emissions_provider: Literal["builtin", "boavizta", "http", "oxygenit"] = "builtin"
    boavizta_url: str | None = None
    http_provider_url: str | None = None
    # Secrets Manager secret (name or ARN) holding the external API's key; read at run time, never from the environment.
    http_provider_secret_id: str | None = None
    provider_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # The OxygenIT API (ScaleDynamics): its base URL, the secret holding its key and the header that carries it.
    oxygenit_url: str | None = None
    oxygenit_secret_id: str | None = None
    oxygenit_key_header: str = Field(default="x-api-key", pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
    # Where OxygenIT's answers hold their figures (dotted paths) and in which units: its public documentation does
    # not give the response body, so these defaults are assumed until checked against a live answer (providers.md).
    oxygenit_energy_field: str = Field(default="energy", min_length=1)
    oxygenit_energy_unit: Literal["Wh", "kWh"] = "Wh"
    oxygenit_operational_field: str = Field(default="co2eq", min_length=1)
    oxygenit_operational_unit: Literal["g", "kg"] = "g"
    oxygenit_embodied_field: str = Field(default="co2eq", min_length=1)
    oxygenit_embodied_unit: Literal["g", "kg"] = "g"
    # Sends every AWS call to this endpoint instead of AWS: a local CarbonMeter (`make local`). Its calls are
    # signed with placeholder credentials, so none of the caller's own ever reach it. Never set in Lambda.
    endpoint_url: str | None = None
    # The deployed collector function (stack output CollectorFunctionName): the CLI asks it to check a connection's
    # role, which trusts only the collector's role. Unset (a local CarbonMeter, a trial), the CLI checks itself.
    collector_function_name: str | None = None
    # kWh per GB CloudFront delivers, where the published figures disagree (0.001 to 0.114): unset, the
    # methodology's default (``emissions/data/cloudfront-energy.csv``, ``docs/methodology.md``).
    cloudfront_kwh_per_gb: float | None = Field(default=None, gt=0, le=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if key in environ:
                values[name] = environ[key]
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if region and "region" not in values:
            values["region"] = region
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigurationError(f"invalid CarbonMeter configuration: {exc}") from exc

    @staticmethod
    def env_name(field: str) -> str:
        """The environment variable that sets ``field`` (used by the CDK stack)."""
        return ENV_PREFIX + field.upper()
