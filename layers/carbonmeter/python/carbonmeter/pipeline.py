"""The work of one pipeline step for one connection-hour, as the Lambda handlers run it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from carbonmeter import emissions
from carbonmeter.aws import ApiCallCounter, ClientFactory, assume_role
from carbonmeter.collection import collect
from carbonmeter.models import CalculateJob, CollectJob
from carbonmeter.scheduling import enqueue
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, UsageStore


@dataclass(frozen=True)
class CollectOutcome:
    connection_id: str
    hour: datetime
    records: int
    counter: ApiCallCounter
    skipped: bool = False


@dataclass(frozen=True)
class CalculateOutcome:
    connection_id: str
    hour: datetime
    resources: int
    energy_kwh: float
    operational_kgco2e: float
    embodied_kgco2e: float


def collect_connection_hour(job: CollectJob, clients: ClientFactory, settings: Settings) -> CollectOutcome:
    """Collect, store and hand on to the calculator one connection-hour.

    A failure is recorded on the connection and re-raised so the message is retried.
    """
    connections = ConnectionStore(clients, settings.connections_table)
    connection = connections.get(job.connection_id)
    counter = ApiCallCounter(parent=clients.counter)
    if not connection.enabled:
        return CollectOutcome(job.connection_id, job.hour, records=0, counter=counter, skipped=True)
    try:
        customer = assume_role(
            clients, connection.role_arn, connection.external_id, settings.role_session_name, counter
        )
        records = collect(customer, connection, [job.hour], workers=settings.region_workers)
        written = UsageStore(clients, settings.usage_table).replace_hour(job.connection_id, job.hour, records)
        if settings.calculate_queue_url:
            calculate = CalculateJob(connection_id=job.connection_id, hour=job.hour)
            enqueue(clients, settings.calculate_queue_url, [calculate])
    except Exception as exc:
        connections.record_failure(job.connection_id, f"{job.hour.isoformat()}: {exc}")
        raise
    connections.record_success(job.connection_id, job.hour)
    return CollectOutcome(job.connection_id, job.hour, records=written, counter=counter)


def calculate_connection_hour(job: CalculateJob, clients: ClientFactory, settings: Settings) -> CalculateOutcome:
    """Turn one connection-hour's stored usage into stored emission records and roll-ups."""
    usage = UsageStore(clients, settings.usage_table).read_hour(job.connection_id, job.hour)
    records = emissions.estimate_all(usage)
    rollups = emissions.rollup(records)
    EmissionStore(clients, settings.emissions_table).replace_hour(job.connection_id, job.hour, records, rollups)
    return CalculateOutcome(
        connection_id=job.connection_id,
        hour=job.hour,
        resources=len(records),
        energy_kwh=sum(r.energy_kwh for r in records),
        operational_kgco2e=sum(r.operational_kgco2e for r in records),
        embodied_kgco2e=sum(r.embodied_kgco2e for r in records),
    )
