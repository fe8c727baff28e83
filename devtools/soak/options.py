"""What a soak run is asked to do, and the customer fleets its connections point at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from carbonmeter.settings import Settings

# Each fleet is a customer account's resources in its own regions; connections point at one fleet.
FLEET_REGIONS: tuple[tuple[str, ...], ...] = (
    ("us-east-1", "eu-west-1"),
    ("us-west-2", "eu-central-1"),
    ("ap-southeast-2", "ap-northeast-1"),
    ("ca-central-1", "sa-east-1"),
)
# Metric-bearing resources per fleet (EC2, Lambda, S3, RDS; instances bring root volumes).
FLEET_SIZES: tuple[int, ...] = (12, 8, 20, 6)
DEFAULT_CONNECTIONS = 200
DEFAULT_HOURS = 24
DEFAULT_FAULT_RATE = 0.05
DEFAULT_MAX_RECOVERY_HOURS = 6


@dataclass(frozen=True)
class SoakOptions:
    connections: int = DEFAULT_CONNECTIONS
    hours: int = DEFAULT_HOURS
    fault_rate: float = DEFAULT_FAULT_RATE
    seed: int = 1
    max_recovery_hours: int = DEFAULT_MAX_RECOVERY_HOURS
    # Settings.retry_incomplete_after_hours: how long the watermark waits before re-queuing an incomplete hour.
    retry_after_hours: int = Settings().retry_incomplete_after_hours
    # Seeded customer fleets the connections share (at most len(FLEET_REGIONS)).
    fleets: int = len(FLEET_REGIONS)
    # Botocore's retry mode for calls into customer accounts (CarbonMeter's own clients use standard).
    retry_mode: Literal["standard", "adaptive"] = "standard"


@dataclass(frozen=True)
class SoakConnection:
    connection_id: str
    external_id: str
    regions: tuple[str, ...]


def connection_ids(options: SoakOptions) -> list[str]:
    """The ids the run registers, in order."""
    return [f"soak-{index:04d}" for index in range(options.connections)]
