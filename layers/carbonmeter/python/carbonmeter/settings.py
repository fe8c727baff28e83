"""Runtime configuration, read once from the environment into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from carbonmeter.collection_windows import DEFAULT_WINDOW_HOURS, WindowHours

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
    # The hourly run's pages of connections, each planned by the scheduler's page step (scheduling.py).
    page_queue_url: str | None = None
    # The page step's claims (Powertools idempotency): a page already planned for an hour sends nothing again.
    idempotency_table: str = "carbonmeter-idempotency"
    region: str = "us-east-1"
    # Regions of one connection are collected concurrently, bounded so that a
    # connection with every region enabled stays inside CloudWatch's quota.
    region_workers: int = Field(default=8, ge=1, le=32)
    # Retries of calls into customer accounts (CarbonMeter's own resources use standard mode).
    retry_mode: Literal["standard", "adaptive"] = "adaptive"
    # Attempts per call, the first included.
    max_attempts: int = Field(default=8, ge=1, le=20)
    # GetMetricData requests a second this container sends to one customer account in one region, whatever the
    # connections and threads sending them (``rate_limit``). CloudWatch allows 50 a second per account and region;
    # the deployed collector is given that quota over its maximum concurrency, since that many containers may read
    # one account at once (``infra/constants.py``). The default, the whole quota, is for one process alone (the CLI,
    # the workbench).
    metric_data_requests_per_second: float = Field(default=50.0, gt=0, le=1000)
    # The hourly run reads the connections' hour statuses, and sends their jobs, this many requests at a time: at
    # 10,000 connections one query after another would outlast the scheduler's timeout (docs/benchmarks.md).
    scheduler_workers: int = Field(default=16, ge=1, le=32)
    # Connections per page of the hourly run: what one page step reads and queues, so that its time is bounded
    # whatever the number of connections. A page travels as one SQS message: 500 schedules are about 150 KB of
    # SQS's 256 KiB.
    scheduler_page_connections: int = Field(default=250, ge=1, le=500)
    # The hourly run re-queues hours missed within this window (CloudWatch keeps hourly data 455 days).
    lookback_hours: int = Field(default=72, ge=1, le=455 * 24)
    # An incomplete hour is queued again once its own message's retries are over.
    retry_incomplete_after_hours: int = Field(default=3, ge=1)
    # A connection with no successful hour for this long counts in the StaleConnections metric.
    stale_after_hours: int = Field(default=6, ge=1)
    # CloudWatch publishes an hour's last datapoints a few minutes after it ends (5-minute metrics arrive
    # up to about ten minutes late): an hour is collected only once this many minutes have passed since its end.
    settle_minutes: int = Field(default=10, ge=0, le=180)
    # Hours per collection of a connection without a window of its own (collection_windows.py): 1, 3, 6, 12 or 24,
    # aligned in UTC. Longer windows cost less GetMetricData (one query per metric per window) and store later.
    collection_window_hours: WindowHours = DEFAULT_WINDOW_HOURS
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
    # Anomaly alerts (docs/insights.md, "Anomalies"): the calculator checks every hour it calculates, and publishes
    # one alert per anomaly to this SNS topic (unset: anomalies are stored and listed, never published).
    anomaly_detection: bool = True
    anomaly_topic_arn: str | None = None
    # An hour is flagged when its robust z-score exceeds this and it differs from the expected hour by at least
    # the minimum impact (kg CO2e for emissions, resources for a count).
    anomaly_z_threshold: float = Field(default=3.5, gt=0, le=100)
    anomaly_min_impact_kgco2e: float = Field(default=0.02, ge=0)
    anomaly_min_resource_jump: int = Field(default=2, ge=1)
    # Persistence: at least ``anomaly_persistence_min`` of the last ``anomaly_persistence_hours`` hours flagged.
    anomaly_persistence_hours: int = Field(default=4, ge=1, le=24)
    anomaly_persistence_min: int = Field(default=3, ge=1, le=24)
    # No second alert for the same series, kind and direction within this many hours of the last one.
    anomaly_quiet_hours: int = Field(default=24, ge=0, le=24 * 30)
    # The model: the same hour of the week over this many weeks once at least ``anomaly_min_weeks`` are stored,
    # else the same hour of the day over this many days (at least ``anomaly_min_days`` of them).
    anomaly_baseline_weeks: int = Field(default=8, ge=1, le=12)
    anomaly_min_weeks: int = Field(default=3, ge=1, le=12)
    anomaly_baseline_days: int = Field(default=7, ge=1, le=28)
    anomaly_min_days: int = Field(default=1, ge=1, le=28)
    # The spread never counts as less than this share of the expected value (MAD is 0 on a flat or short history).
    anomaly_spread_floor: float = Field(default=0.1, gt=0, le=10)

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
