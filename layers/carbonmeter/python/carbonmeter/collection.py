"""Collecting one connection's usage: every region in parallel, every service in each.

Global services (CloudFront: ``ServiceSlice.is_global``) are collected once per connection-hour, whatever
regions the connection lists, as one more area beside the regions: the pseudo-region ``global``, whose APIs and
metrics are read in ``GLOBAL_API_REGION``. Its scopes (``global/<service>``) succeed, fail and are retried as a
region's do.

Failures are kept to the smallest scope they touch, a region's share of one service:
a service whose discovery fails, or whose metrics cannot be read, fails alone and the
rest of the region is still collected. A region the account has not enabled is skipped,
with the reason, rather than failed, since retrying cannot help.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from carbonmeter import cloudwatch
from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.errors import describe_error as describe_error  # its home moved; kept importable here
from carbonmeter.gc_pause import gc_paused
from carbonmeter.models import GLOBAL_REGION, Service, UsageRecord, scope_key
from carbonmeter.rate_limit import TokenBucket
from carbonmeter.regions import collection_regions
from carbonmeter.services import COLLECTORS, HourContext, Resource, ServiceCollector
from carbonmeter.services.base import GLOBAL_API_REGION, shared_discovery

if TYPE_CHECKING:
    from carbonmeter.inventory import Inventory

# What AWS answers, service by service, when credentials are used in a region the account has not opted into
# (S3 says InvalidToken).
REGION_NOT_ENABLED_CODES = frozenset(
    {"OptInRequired", "AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId", "InvalidToken"}
)


class CollectionTarget(Protocol):
    """What collecting needs to know of an account: a registered ``Connection``, or the caller's own account."""

    @property
    def connection_id(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    @property
    def regions(self) -> tuple[str, ...]: ...

    @property
    def services(self) -> tuple[Service, ...]: ...


@dataclass
class RegionUsage:
    """What one region gave: usage records, and per service whether it succeeded."""

    region: str
    resources: int = 0
    records: list[UsageRecord] = field(default_factory=list)
    succeeded: list[Service] = field(default_factory=list)
    failed: dict[Service, str] = field(default_factory=dict)
    skipped: dict[Service, str] = field(default_factory=dict)
    # The resources the APIs listed, of the services that succeeded: what the inventory remembers.
    seen: list[Resource] = field(default_factory=list)

    def fail(self, service: Service, error: BaseException) -> None:
        reason = describe_error(error)
        if _region_not_enabled(error):
            self.skipped[service] = f"region not enabled in the account ({reason})"
        else:
            self.failed[service] = reason


@dataclass
class CollectionResult:
    """Usage of every scope that succeeded, and the scopes that did not, by ``region/service``."""

    records: list[UsageRecord] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seen: list[Resource] = field(default_factory=list)

    def add(self, region: RegionUsage) -> None:
        self.records.extend(region.records)
        self.seen.extend(region.seen)
        self.succeeded.extend(scope_key(region.region, service) for service in region.succeeded)
        self.failed.update({scope_key(region.region, s): error for s, error in region.failed.items()})
        self.skipped.update({scope_key(region.region, s): reason for s, reason in region.skipped.items()})


def areas(
    connection: CollectionTarget, regions: Sequence[str] | None = None
) -> dict[str, tuple[ServiceCollector, ...]]:
    """What is collected where: each region (``regions``, resolved from the connection's, else its own) with the
    regional services, then ``global`` with the global ones, once; an area with no service is left out."""
    collectors = [COLLECTORS[service] for service in connection.services]
    regional = tuple(collector for collector in collectors if not collector.is_global)
    global_ = tuple(collector for collector in collectors if collector.is_global)
    found = dict.fromkeys(connection.regions if regions is None else regions, regional) if regional else {}
    if global_:
        found[GLOBAL_REGION] = global_
    return found


def scopes(connection: CollectionTarget) -> list[str]:
    """Every ``region/service`` scope a collection of ``connection`` covers, the global ones included."""
    return [
        scope_key(area, collector.name) for area, collectors in areas(connection).items() for collector in collectors
    ]


def api_region(area: str) -> str:
    """Where an area's APIs are called: the region itself, or ``GLOBAL_API_REGION`` for ``global``."""
    return GLOBAL_API_REGION if area == GLOBAL_REGION else area


def collect(
    clients: ClientFactory,
    connection: CollectionTarget,
    hours: Sequence[datetime],
    *,
    workers: int,
    progress: Callable[[RegionUsage], None] | None = None,
    inventory: Inventory | None = None,
) -> CollectionResult:
    """Usage of every resource of ``connection`` for each of ``hours``, area by area (``areas``) in parallel.

    ``clients`` must carry the connection's (assumed) credentials. With an ``inventory``, the resources it
    remembers that the APIs no longer list are collected too, for the hours they lived (``Inventory.gone``).
    """
    try:
        regions = collection_regions(clients, connection)
    except Exception as error:  # without its regions nothing of the connection can be collected: all of it failed
        return all_failed(connection, describe_error(error))
    planned = areas(connection, regions)
    result = CollectionResult()
    with gc_paused, ThreadPoolExecutor(max_workers=max(1, min(workers, len(planned)))) as pool:
        futures = [
            pool.submit(collect_region, clients, area, collectors, connection, hours, inventory=inventory)
            for area, collectors in planned.items()
        ]
        for future in as_completed(futures):
            region = future.result()
            if progress is not None:
                progress(region)
            result.add(region)
    result.succeeded.sort()
    return result


def all_failed(connection: CollectionTarget, reason: str) -> CollectionResult:
    """Every scope of ``connection``, the global ones included, failed for ``reason`` (its role could not be
    assumed, or its regions known)."""
    return CollectionResult(failed=dict.fromkeys(scopes(connection), reason))


def collect_region(
    clients: ClientFactory,
    region: str,
    collectors: Sequence[ServiceCollector],
    connection: CollectionTarget,
    hours: Sequence[datetime],
    *,
    inventory: Inventory | None = None,
) -> RegionUsage:
    """Discover once, then read every metric of every hour with batched GetMetricData.

    ``region`` is a region or ``global`` (then the APIs are called in ``GLOBAL_API_REGION``).
    """
    outcome = RegionUsage(region)
    listed = _discover(clients, api_region(region), collectors, outcome)
    discovered = {
        service: [*resources, *_remembered(inventory, region, service, resources, hours)]
        for service, resources in listed.items()
    }
    requests = {
        service: [
            request
            for resource in resources
            for hour in hours
            for request in COLLECTORS[service].metric_requests(resource, hour)
        ]
        for service, resources in discovered.items()
    }
    values = _fetch(clients, connection.account_id, api_region(region), requests, outcome)
    for service, resources in discovered.items():
        if service in outcome.failed or service in outcome.skipped:
            continue
        try:
            records = [r for hour in hours for res in resources for r in _usage(res, values, connection, hour)]
        except Exception as error:  # a resource the service module cannot describe fails its service only
            outcome.fail(service, error)
            continue
        outcome.records.extend(records)
        outcome.resources += len(resources)
        outcome.succeeded.append(service)
        outcome.seen.extend(listed[service])
    return outcome


def _remembered(
    inventory: Inventory | None,
    region: str,
    service: Service,
    listed: Sequence[Resource],
    hours: Sequence[datetime],
) -> list[Resource]:
    if inventory is None or not COLLECTORS[service].remembers_gone:
        return []
    return inventory.gone(region, service, listed, hours)


def _discover(
    clients: ClientFactory, region: str, collectors: Sequence[ServiceCollector], outcome: RegionUsage
) -> dict[Service, list[Resource]]:
    discovered: dict[Service, list[Resource]] = {}
    # What several slices read of one area (ECS's Fargate workloads, which EKS reads too) is asked for once.
    with shared_discovery():
        for collector in collectors:
            try:
                discovered[collector.name] = collector.discover(clients, region)
            except Exception as error:
                outcome.fail(collector.name, error)
    return discovered


def _fetch(
    clients: ClientFactory,
    account_id: str,
    region: str,
    requests: Mapping[Service, list[MetricRequest]],
    outcome: RegionUsage,
) -> Mapping[MetricRequest, Sequence[float]]:
    # One fetch for the whole region keeps the 500-query batches full across services.
    wanted = [request for service_requests in requests.values() for request in service_requests]
    if not wanted:
        return {}
    try:
        return cloudwatch.fetch(
            clients.client("cloudwatch", region),
            wanted,
            clients.counter,
            metric_data_limiter(clients, account_id, region),
        )
    except Exception as error:
        for service, service_requests in requests.items():
            if service_requests:
                outcome.fail(service, error)
        return {}


def metric_data_limiter(clients: ClientFactory, account_id: str, region: str) -> TokenBucket:
    """The bucket GetMetricData requests to ``account_id`` in ``region`` wait in: one per account and region in the
    container (``clients.rate_limits``), so connections of one account share it and regions collected in parallel
    each have their own (CloudWatch's quota is per account and region; ``global`` is read in its API's region)."""
    return clients.rate_limits.bucket(account_id, region, clients.settings.metric_data_requests_per_second)


def _usage(
    resource: Resource,
    values: Mapping[MetricRequest, Sequence[float]],
    connection: CollectionTarget,
    hour: datetime,
) -> list[UsageRecord]:
    """The resource's records for the hour, their ``hours`` the share of it the resource ran or existed: none at all
    for an hour it did not (before its creation, after its end), whatever the service (``running_share``)."""
    collector = COLLECTORS[Service(resource.service)]
    share = collector.running_share(resource, values, hour)
    if share <= 0.0:
        return []
    context = HourContext(connection_id=connection.connection_id, account_id=connection.account_id, hour=hour)
    records = collector.usage(resource, values, context)
    if share >= 1.0:
        return records
    return [record.model_copy(update={"hours": record.hours * share}) for record in records]


def _region_not_enabled(error: BaseException) -> bool:
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in REGION_NOT_ENABLED_CODES
