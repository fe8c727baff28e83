"""The customer fleets a soak run seeds in its embedded AWS, and the connections registered against them."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import datetime

from carbonmeter.aws import ClientFactory
from carbonmeter.models import Connection
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore
from devtools.aws.server import seed_ids
from devtools.progress import say
from devtools.seed import seed_fleet
from devtools.soak.options import FLEET_REGIONS, FLEET_SIZES, SoakConnection, SoakOptions


def seed_connections(
    name: str,
    endpoint: str,
    clients: ClientFactory,
    settings: Settings,
    options: SoakOptions,
    metric_hours: Sequence[datetime],
) -> list[SoakConnection]:
    """Seed the fleets with metrics for ``metric_hours`` and register the connections, as of the first hour.

    Two runs given the same options get the same resource ids, metrics, connections and ExternalIds.
    """
    # moto draws resource ids from its own generator: seeded, both runs get the same ids.
    seed_ids(endpoint, options.seed)
    started = time.monotonic()
    fleets = [
        seed_fleet(clients, regions, size, metric_hours, rng_seed=options.seed + index)
        for index, (regions, size) in enumerate(zip(FLEET_REGIONS, FLEET_SIZES, strict=True))
        if index < options.fleets
    ]
    rng = random.Random(f"connections:{options.seed}")
    registry = ConnectionStore(clients, settings.connections_table)
    connections = []
    for index in range(options.connections):
        fleet = fleets[index % len(fleets)]
        # One connection in three collects both of its account's regions, the others one region each.
        one = (fleet.regions[(index // len(fleets)) % len(fleet.regions)],)
        regions = fleet.regions if index % 3 == 0 else one
        connection = SoakConnection(f"soak-{index:04d}", f"soak-{rng.getrandbits(96):024x}", regions)
        registry.put(
            Connection(
                connection_id=connection.connection_id,
                role_arn=fleet.role_arn,
                external_id=connection.external_id,
                regions=connection.regions,
                # Registered when the first hour starts, so the scheduler collects from there.
                created_at=metric_hours[0],
            )
        )
        connections.append(connection)
    resources = sum(fleet.count() for fleet in fleets)
    say(
        f"[{name}] seeded {len(fleets)} fleets ({resources} resources, {len(metric_hours)} hours of metrics) "
        f"and registered {len(connections)} connections in {time.monotonic() - started:.1f}s"
    )
    return connections
