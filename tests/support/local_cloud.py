"""The local cloud of the end-to-end tests (built by the ``local_cloud`` fixture of ``tests/e2e/conftest.py``):
a deployed CarbonMeter and a seeded customer account on the embedded AWS, and what tests do with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from carbonmeter.aws import ClientFactory
from carbonmeter.models import HOUR, Connection, hour_key
from carbonmeter.scheduling import settled_end
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore
from devtools.aws.pipeline import LocalPipeline
from devtools.seed import DemoAccount

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
# The connection id tests register the seeded account under.
CONNECTION = "demo"


@dataclass
class LocalCloud:
    """A deployed CarbonMeter and a seeded customer account, both on the embedded AWS."""

    settings: Settings
    clients: ClientFactory
    account: DemoAccount
    pipeline: LocalPipeline
    handler_clients: ClientFactory

    @property
    def hours(self) -> tuple[datetime, ...]:
        return self.account.hours


def last_hours(count: int) -> list[datetime]:
    """The latest ``count`` hours the collector accepts now (ended, and past their settling delay)."""
    end = settled_end(datetime.now(UTC), Settings())
    return [end - timedelta(hours=count - i) for i in range(count)]


def register(
    cloud: LocalCloud,
    connection_id: str = CONNECTION,
    role_arn: str | None = None,
    *,
    from_first_hour: bool = False,
    regions: tuple[str, ...] | None = None,
    window_hours: int | None = None,
) -> None:
    """Stores a connection to the cloud's seeded account in its connections table.

    ``from_first_hour``: registered when the seeded hours start, so the hourly run collects from there.
    ``regions``: what the connection names (default: the seeded regions).
    ``window_hours``: its own collection window (default: the deployment's).
    """
    ConnectionStore(cloud.clients, cloud.settings.connections_table).put(
        Connection(
            connection_id=connection_id,
            role_arn=role_arn or cloud.account.role_arn,
            external_id=cloud.account.external_id,
            regions=regions or cloud.account.regions,
            created_at=cloud.hours[0] if from_first_hour else None,
            window_hours=window_hours,
        )
    )


def estimate_args(cloud: LocalCloud, *extra: str) -> list[str]:
    """``python -m carbonmeter estimate`` over every hour and region of the cloud's seeded account."""
    return [
        "estimate",
        "--role-arn", cloud.account.role_arn,
        "--external-id", cloud.account.external_id,
        "--regions", ",".join(cloud.account.regions),
        "--start", hour_key(cloud.hours[0]),
        "--end", hour_key(cloud.hours[-1] + HOUR),
        *extra,
    ]  # fmt: skip
