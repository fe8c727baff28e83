"""The anomaly use cases: check one calculated hour (the calculator's last step), and list a connection's anomalies.

Per calculated hour the check reads one BatchGetItem (the stored checks of the hours its model and its
persistence window need) and writes one PutItem (its own check); only a series that persists in a direction
costs more: one Query of its recent anomalies, one write, and for a new anomaly one conditional update and one
SNS Publish. Recalculating an hour finds the anomaly it already stored and sends nothing again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from carbonmeter.aws import ClientFactory
from carbonmeter.insights.anomalies import detection
from carbonmeter.insights.anomalies.alerts import AlertPublisher
from carbonmeter.insights.anomalies.detection import Kind, Thresholds
from carbonmeter.insights.anomalies.records import (
    AlertState,
    Anomaly,
    Contributor,
    HourCheck,
    HourFigures,
    SeriesCheck,
)
from carbonmeter.models import HOUR, EmissionRecord, Rollup, hour_key
from carbonmeter.settings import Settings
from carbonmeter.store import AnomalyStore, ConnectionStore
from carbonmeter.windows import WindowError

# How many of a series' largest resources an anomaly names.
CONTRIBUTORS = 3


@dataclass(frozen=True)
class WatchOutcome:
    """What checking one hour found: the anomalies it stored or extended, and the alerts it published."""

    check: HourCheck
    anomalies: list[Anomaly] = field(default_factory=list)
    alerts_sent: int = 0


def check_hour(
    store: AnomalyStore,
    connection_id: str,
    hour: datetime,
    rollups: Sequence[Rollup],
    records: Sequence[EmissionRecord],
    thresholds: Thresholds,
    publisher: AlertPublisher | None = None,
) -> WatchOutcome:
    """Judge every series of a just-calculated hour, store the hour's check, and store and alert what persists.

    A series absent from the hour (no records at all) is not judged: it reads the same as a scope whose
    collection failed, which is retried and would otherwise raise a false alarm.
    """
    weeks, days = detection.baseline_hours(hour, thresholds)
    earlier = detection.persistence_hours(hour, thresholds)
    history = store.checks(connection_id, [*weeks, *days, *earlier])
    check = HourCheck(
        connection_id=connection_id,
        hour=hour,
        series=tuple(_judge(rollup, history, weeks, days, thresholds) for rollup in _series(rollups)),
    )
    store.put_check(check)
    anomalies: list[Anomaly] = []
    sent = 0
    for series in check.series:
        for kind in Kind:
            found = _persisting(connection_id, series, kind, hour, history, thresholds)
            if found is None:
                continue
            found = found.model_copy(update={"contributors": _contributors(series, records)})
            stored = _store(store, found, thresholds, publisher)
            anomalies.append(stored)
            if publisher is not None and _alert(store, stored, publisher):
                sent += 1
    return WatchOutcome(check=check, anomalies=anomalies, alerts_sent=sent)


def _series(rollups: Iterable[Rollup]) -> list[Rollup]:
    return sorted(rollups, key=lambda r: (r.region, r.service))


def _judge(
    rollup: Rollup,
    history: dict[datetime, HourCheck],
    weeks: Sequence[datetime],
    days: Sequence[datetime],
    thresholds: Thresholds,
) -> SeriesCheck:
    series = SeriesCheck(
        region=rollup.region,
        service=rollup.service,
        kgco2e=rollup.operational_kgco2e + rollup.embodied_kgco2e,
        resources=rollup.resources,
    )
    scores = {}
    for kind in Kind:
        model = detection.baseline(
            _figures(history, weeks, series, kind), _figures(history, days, series, kind), thresholds
        )
        scores[kind] = None if model is None else detection.score(series.figure(kind), model, kind, thresholds)
    return series.model_copy(update={"emissions": scores[Kind.EMISSIONS], "count": scores[Kind.RESOURCES]})


def _figures(
    history: dict[datetime, HourCheck], hours: Sequence[datetime], series: SeriesCheck, kind: Kind
) -> list[float]:
    """The series' figure in every stored hour of ``hours``; a stored hour without the series had none of it."""
    figures = []
    for hour in hours:
        if (check := history.get(hour)) is not None:
            known = check.of(series.region, series.service)
            figures.append(0.0 if known is None else known.figure(kind))
    return figures


def _persisting(
    connection_id: str,
    series: SeriesCheck,
    kind: Kind,
    hour: datetime,
    history: dict[datetime, HourCheck],
    thresholds: Thresholds,
) -> Anomaly | None:
    """The anomaly the hour completes or continues, with the flagged hours of its window, or None."""
    current = series.scored(kind)
    if current is None or current.flag is None:
        return None
    scores = {hour: current}
    for earlier in detection.persistence_hours(hour, thresholds):
        known = history.get(earlier)
        past = None if known is None else known.of(series.region, series.service)
        if past is not None and (scored := past.scored(kind)) is not None:
            scores[earlier] = scored
    direction = current.flag
    start = detection.persistent_start(hour, {h: s.flag for h, s in scores.items()}, direction, thresholds)
    if start is None:
        return None
    flagged = {h: s for h, s in sorted(scores.items()) if h >= start and s.flag is direction}
    return Anomaly(
        connection_id=connection_id,
        region=series.region,
        service=series.service,
        kind=kind,
        direction=direction,
        start=start,
        end=hour + HOUR,
        method=current.method,
        hours={hour_key(h): HourFigures(expected=s.expected, observed=s.observed, z=s.z) for h, s in flagged.items()},
    )


def _contributors(series: SeriesCheck, records: Sequence[EmissionRecord]) -> tuple[Contributor, ...]:
    mine = [r for r in records if r.region == series.region and r.service == series.service]
    mine.sort(key=lambda r: (-(r.operational_kgco2e + r.embodied_kgco2e), r.resource_id))
    return tuple(
        Contributor(
            resource_id=r.resource_id, resource_type=r.resource_type, kgco2e=r.operational_kgco2e + r.embodied_kgco2e
        )
        for r in mine[:CONTRIBUTORS]
    )


def _store(store: AnomalyStore, found: Anomaly, thresholds: Thresholds, publisher: AlertPublisher | None) -> Anomaly:
    """Extend the series' anomaly the window touches, or store a new one (alerted unless in the quiet period)."""
    reach = timedelta(hours=thresholds.quiet_hours) + thresholds.persistence_hours * HOUR
    recent = store.of_series(
        found.connection_id, found.region, found.service, found.kind, found.direction, found.start - reach
    )
    touching = [a for a in recent if a.start <= found.end and a.end >= found.start]
    if touching:
        extended = touching[-1].extended(found.hours)
        if extended != touching[-1]:
            store.extend(extended, found.hours)
        return extended
    quiet = any(
        a.alert in (AlertState.PENDING, AlertState.SENT)
        and found.start - a.start < timedelta(hours=thresholds.quiet_hours)
        for a in recent
        if a.start < found.start
    )
    state = AlertState.QUIET if quiet else AlertState.PENDING if publisher is not None else AlertState.UNSENT
    fresh = found.model_copy(update={"alert": state})
    if store.put_new(fresh):
        return fresh
    # Another calculation of the same hour stored it first: it is the same anomaly.
    return store.get(fresh) or fresh


def _alert(store: AnomalyStore, anomaly: Anomaly, publisher: AlertPublisher) -> bool:
    """Publish a pending anomaly once: the conditional move to ``sent`` lets one caller alone publish it.

    If publishing fails the anomaly goes back to pending and the error propagates, so the calculation is retried
    and publishes it then.
    """
    claim = uuid.uuid4().hex
    if anomaly.alert is not AlertState.PENDING:
        return False
    if not store.move_alert(anomaly, AlertState.PENDING, AlertState.SENT, claim):
        return False
    try:
        publisher.publish(anomaly)
    except Exception:
        store.move_alert(anomaly, AlertState.SENT, AlertState.PENDING, uuid.uuid4().hex)
        raise
    return True


def list_anomalies(store: AnomalyStore, connection_id: str, start: datetime, end: datetime) -> list[Anomaly]:
    """The connection's anomalies that overlap [start, end), by start."""
    if end <= start:
        raise WindowError(f"the window must end after it starts ({hour_key(start)} to {hour_key(end)})")
    return store.between(connection_id, start, end)


def connection_anomalies(
    clients: ClientFactory, settings: Settings, connection_id: str, start: datetime, end: datetime
) -> list[Anomaly]:
    """A known connection's anomalies that overlap [start, end) (``carbonmeter anomalies``; the HTTP API next)."""
    # An unknown id is a mistake to say so, not an empty answer.
    ConnectionStore(clients, settings.connections_table).schedule(connection_id)
    return list_anomalies(AnomalyStore(clients, settings.emissions_table), connection_id, start, end)
