"""The calculator's step for one connection-hour, as its Lambda handler runs it.

Apart from the collector's step (``collect_step``) so that the calculator imports no collection code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from carbonmeter import emissions, periods
from carbonmeter.aws import ClientFactory
from carbonmeter.emissions.providers import FALLBACK_FLAG_PREFIX, EmissionsProvider, provider_for
from carbonmeter.errors import describe_error
from carbonmeter.gc_pause import gc_paused
from carbonmeter.insights.anomalies.alerts import SnsAlerts
from carbonmeter.insights.anomalies.detection import Thresholds
from carbonmeter.insights.anomalies.watch import WatchOutcome, check_hour
from carbonmeter.models import HOUR, CalculateJob, EmissionRecord, Rollup, hour_key
from carbonmeter.scheduling import check_settled
from carbonmeter.settings import Settings
from carbonmeter.store import AnomalyStore, EmissionStore, StatusStore, UsageStore

logger = logging.getLogger(__name__)


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
    # Anomalies the hour found or continued, and the alerts it published (docs/insights.md, "Anomalies").
    anomalies: int = 0
    anomaly_alerts: int = 0


def calculate_connection_hour(
    job: CalculateJob,
    clients: ClientFactory,
    settings: Settings,
    provider: EmissionsProvider | None = None,
    now: datetime | None = None,
) -> CalculateOutcome:
    """Turn one connection-hour's stored usage into stored emission records and roll-ups.

    ``provider`` (built from the settings when not given) produces the figures; a remote one
    falls back to the builtin methodology record by record, and says so on the record.
    The hour's status records that it was calculated, or why it failed, so that the hourly run
    can queue it again when its job was lost.
    """
    check_settled(f"the calculate job for {hour_key(job.hour)}", job.hour + HOUR, now or datetime.now(UTC), settings)
    statuses = StatusStore(clients, settings.usage_table)
    try:
        # Reading, estimating and storing an hour only add to what is held: the collector's passes would walk it
        # all again for nothing (gc_pause.py).
        with gc_paused:
            outcome = _calculate(job, clients, settings, provider)
    except Exception as error:
        try:
            statuses.mark_calculation_failed(job.connection_id, job.hour, describe_error(error))
        except Exception as trace_error:  # the job is retried either way; the log line says why
            logger.warning("could not record the failure on the hour's status: %s", describe_error(trace_error))
        raise
    statuses.mark_calculated(job.connection_id, job.hour)
    return outcome


def _calculate(
    job: CalculateJob, clients: ClientFactory, settings: Settings, provider: EmissionsProvider | None
) -> CalculateOutcome:
    usage = UsageStore(clients, settings.usage_table).read_hour(job.connection_id, job.hour)
    records = (provider or provider_for(settings, clients)).estimate(usage)
    rollups = emissions.rollup(records)
    store = EmissionStore(clients, settings.emissions_table)
    store.replace_hour(job.connection_id, job.hour, records, rollups)
    periods.refresh_periods(store, job.connection_id, job.hour)
    watched = _check_anomalies(job, records, rollups, clients, settings)
    return CalculateOutcome(
        connection_id=job.connection_id,
        hour=job.hour,
        resources=len(records),
        energy_kwh=sum(r.energy_kwh for r in records),
        operational_kgco2e=sum(r.operational_kgco2e for r in records),
        embodied_kgco2e=sum(r.embodied_kgco2e for r in records),
        fallbacks=sum(1 for r in records if any(f.startswith(FALLBACK_FLAG_PREFIX) for f in r.flags)),
        anomalies=0 if watched is None else len(watched.anomalies),
        anomaly_alerts=0 if watched is None else watched.alerts_sent,
    )


def _check_anomalies(
    job: CalculateJob,
    records: Sequence[EmissionRecord],
    rollups: Sequence[Rollup],
    clients: ClientFactory,
    settings: Settings,
) -> WatchOutcome | None:
    """The hour's last step: judge its series against their history, store and alert what persists."""
    if not settings.anomaly_detection:
        return None
    publisher = SnsAlerts(clients, settings.anomaly_topic_arn) if settings.anomaly_topic_arn else None
    store = AnomalyStore(clients, settings.emissions_table)
    return check_hour(store, job.connection_id, job.hour, rollups, records, Thresholds.of(settings), publisher)
