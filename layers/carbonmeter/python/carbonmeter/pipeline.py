"""The work of one pipeline step for one connection-hour, as the Lambda handlers run it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from carbonmeter import emissions
from carbonmeter.aws import ApiCallCounter, ClientFactory, RoleAssumptionError, assume_role
from carbonmeter.collection import CollectionResult, collect
from carbonmeter.emissions.providers import FALLBACK_FLAG_PREFIX, EmissionsProvider, provider_for
from carbonmeter.models import BackfillChunk, CalculateJob, CollectJob, Connection, HourStatus, hour_key, scope_key
from carbonmeter.scheduling import enqueue
from carbonmeter.services import READ_ACTIONS
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, StatusStore, UsageStore


class IncompleteCollectionError(RuntimeError):
    """Some scopes of the hour failed: what succeeded is stored, and the message is to be retried."""


@dataclass(frozen=True)
class CollectOutcome:
    connection_id: str
    hour: datetime
    records: int
    counter: ApiCallCounter
    status: HourStatus | None = None
    skipped: bool = False


@dataclass(frozen=True)
class CalculateOutcome:
    connection_id: str
    hour: datetime
    resources: int
    energy_kwh: float
    operational_kgco2e: float
    embodied_kgco2e: float
    # Records the chosen provider could not produce, estimated by the builtin methodology instead.
    fallbacks: int = 0


def collect_connection_hour(job: CollectJob, clients: ClientFactory, settings: Settings) -> CollectOutcome:
    """Collect, store and hand on to the calculator one connection-hour.

    Scopes (a region's share of a service) that succeed are stored even when others fail;
    the hour's status says which failed, the failure is recorded on the connection, and
    ``IncompleteCollectionError`` is raised so the message is retried.
    """
    connections = ConnectionStore(clients, settings.connections_table)
    connection = connections.get(job.connection_id)
    counter = ApiCallCounter(parent=clients.counter)
    if not connection.enabled:
        return CollectOutcome(job.connection_id, job.hour, records=0, counter=counter, skipped=True)
    statuses = StatusStore(clients, settings.usage_table)
    try:
        customer = assume_role(
            clients,
            connection.role_arn,
            connection.external_id,
            settings.role_session_name,
            counter,
            session_actions=READ_ACTIONS,
        )
    except RoleAssumptionError as exc:
        _record(statuses, connection, job.hour, _all_failed(connection, str(exc)))
        connections.record_failure(job.connection_id, f"{hour_key(job.hour)}: {exc}")
        raise
    result = collect(customer, connection, [job.hour], workers=settings.region_workers)
    written = UsageStore(clients, settings.usage_table).replace_hour(
        job.connection_id, job.hour, result.records, scopes=result.succeeded
    )
    status = _record(statuses, connection, job.hour, result)
    if settings.calculate_queue_url:
        enqueue(clients, settings.calculate_queue_url, [CalculateJob(connection_id=job.connection_id, hour=job.hour)])
    if not status.complete:
        summary = _summary(status)
        connections.record_failure(job.connection_id, summary)
        raise IncompleteCollectionError(summary)
    connections.record_success(job.connection_id, job.hour)
    return CollectOutcome(job.connection_id, job.hour, records=written, counter=counter, status=status)


def _all_failed(connection: Connection, error: str) -> CollectionResult:
    scopes = [scope_key(region, service) for region in connection.regions for service in connection.services]
    return CollectionResult(failed=dict.fromkeys(scopes, error))


def _record(statuses: StatusStore, connection: Connection, hour: datetime, result: CollectionResult) -> HourStatus:
    return statuses.record(connection.connection_id, hour, result.succeeded, result.failed, result.skipped)


def _summary(status: HourStatus) -> str:
    scope, error = next(iter(sorted(status.failed.items())))
    more = f" (and {len(status.failed) - 1} more)" if len(status.failed) > 1 else ""
    return f"{hour_key(status.hour)}: {scope} failed: {error}{more}"


def expand_backfill_chunk(chunk: BackfillChunk, clients: ClientFactory, settings: Settings) -> int:
    """Queue one CollectJob per hour of ``chunk``."""
    if not settings.collect_queue_url:
        raise RuntimeError("CARBONMETER_COLLECT_QUEUE_URL is not set")
    jobs = [CollectJob(connection_id=chunk.connection_id, hour=hour) for hour in chunk.hours()]
    return enqueue(clients, settings.collect_queue_url, jobs)


def calculate_connection_hour(
    job: CalculateJob, clients: ClientFactory, settings: Settings, provider: EmissionsProvider | None = None
) -> CalculateOutcome:
    """Turn one connection-hour's stored usage into stored emission records and roll-ups.

    ``provider`` (built from the settings when not given) produces the figures; a remote one
    falls back to the builtin methodology record by record, and says so on the record.
    """
    usage = UsageStore(clients, settings.usage_table).read_hour(job.connection_id, job.hour)
    records = (provider or provider_for(settings, clients)).estimate(usage)
    rollups = emissions.rollup(records)
    EmissionStore(clients, settings.emissions_table).replace_hour(job.connection_id, job.hour, records, rollups)
    return CalculateOutcome(
        connection_id=job.connection_id,
        hour=job.hour,
        resources=len(records),
        energy_kwh=sum(r.energy_kwh for r in records),
        operational_kgco2e=sum(r.operational_kgco2e for r in records),
        embodied_kgco2e=sum(r.embodied_kgco2e for r in records),
        fallbacks=sum(1 for r in records if any(f.startswith(FALLBACK_FLAG_PREFIX) for f in r.flags)),
    )
