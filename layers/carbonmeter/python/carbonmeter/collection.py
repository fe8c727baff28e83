"""Collecting one connection's usage: every region in parallel, every service in each."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime

from carbonmeter import cloudwatch
from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.models import Connection, Service, UsageRecord
from carbonmeter.services import COLLECTORS, HourContext, Resource, ServiceCollector


class RegionCollectionError(RuntimeError):
    """Collecting one region failed; names the region and the cause."""


@dataclass(frozen=True)
class RegionUsage:
    region: str
    resources: int
    records: list[UsageRecord]


def collect(
    clients: ClientFactory,
    connection: Connection,
    hours: Sequence[datetime],
    *,
    workers: int,
    progress: Callable[[RegionUsage], None] | None = None,
) -> list[UsageRecord]:
    """Usage of every resource of ``connection`` for each of ``hours``.

    ``clients`` must carry the connection's (assumed) credentials. Regions run
    concurrently; a failure in any region fails the whole collection so that the
    connection-hour is retried as a unit rather than stored with a hole in it.
    """
    collectors = [COLLECTORS[service] for service in connection.services]
    with ThreadPoolExecutor(max_workers=min(workers, len(connection.regions))) as pool:
        futures = {
            region: pool.submit(collect_region, clients, region, collectors, connection, hours)
            for region in connection.regions
        }
        if progress is not None:
            for future in as_completed(futures.values()):
                if future.exception() is None:
                    progress(future.result())
    records: list[UsageRecord] = []
    errors = []
    for region, future in futures.items():
        error = future.exception()
        if error is not None:
            errors.append(f"{region}: {error}")
        else:
            records.extend(future.result().records)
    if errors:
        raise RegionCollectionError("; ".join(errors))
    return records


def collect_region(
    clients: ClientFactory,
    region: str,
    collectors: Sequence[ServiceCollector],
    connection: Connection,
    hours: Sequence[datetime],
) -> RegionUsage:
    """Discover once, then read every metric of every hour with batched GetMetricData."""
    resources = [resource for collector in collectors for resource in collector.discover(clients, region)]
    requests = [
        request
        for resource in resources
        for hour in hours
        for request in COLLECTORS[resource.service].metric_requests(resource, hour)
    ]
    values = cloudwatch.fetch(clients.client("cloudwatch", region), requests, clients.counter) if requests else {}
    records = [
        record for hour in hours for resource in resources for record in _usage(resource, values, connection, hour)
    ]
    return RegionUsage(region=region, resources=len(resources), records=records)


def _usage(
    resource: Resource,
    values: Mapping[MetricRequest, Sequence[float]],
    connection: Connection,
    hour: datetime,
) -> list[UsageRecord]:
    context = HourContext(connection_id=connection.connection_id, account_id=connection.account_id, hour=hour)
    return COLLECTORS[Service(resource.service)].usage(resource, values, context)
