"""An anomaly's alert: one SNS message, readable by a person (email) and by a program (HTTPS, JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from carbonmeter.aws import ClientFactory
from carbonmeter.insights.anomalies.detection import Kind
from carbonmeter.insights.anomalies.records import Anomaly
from carbonmeter.models import hour_key

# SNS refuses a subject longer than this.
SUBJECT_LIMIT = 100


class AlertPublisher(Protocol):
    def publish(self, anomaly: Anomaly) -> None: ...


class SnsAlerts:
    """Publishes to the anomaly topic (``Settings.anomaly_topic_arn``)."""

    def __init__(self, clients: ClientFactory, topic_arn: str) -> None:
        self._sns = clients.client("sns", topic_arn.split(":")[3] or None)
        self._topic_arn = topic_arn

    def publish(self, anomaly: Anomaly) -> None:
        self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=subject(anomaly),
            Message=message(anomaly),
            MessageAttributes={"anomaly_id": {"DataType": "String", "StringValue": anomaly.anomaly_id}},
        )


def subject(anomaly: Anomaly) -> str:
    what = "CO2e" if anomaly.kind is Kind.EMISSIONS else "resource count"
    text = f"CarbonMeter anomaly: {anomaly.connection_id} {anomaly.service} {anomaly.region} {what} {anomaly.direction}"
    return text[:SUBJECT_LIMIT]


def summary(anomaly: Anomaly) -> str:
    """One line: what moved, which way, by how much, since when."""
    if anomaly.kind is Kind.EMISSIONS:
        figures = (
            f"{anomaly.observed:.4f} kg CO2e/h observed, {anomaly.expected:.4f} expected "
            f"({anomaly.excess:+.4f} kg over {len(anomaly.hours)} h)"
        )
    else:
        figures = f"{anomaly.observed:.1f} resources observed, {anomaly.expected:.1f} expected"
    return (
        f"{anomaly.service} in {anomaly.region} {anomaly.direction} from {hour_key(anomaly.start)} "
        f"to {hour_key(anomaly.end)}: {figures}"
    )


def message(anomaly: Anomaly) -> str:
    """The summary, then the anomaly as JSON (a webhook reads the second part)."""
    document: dict[str, Any] = anomaly.model_dump(mode="json")
    return f"{summary(anomaly)}\n\n{json.dumps(document, indent=2, sort_keys=True)}"


def anomalies_table(anomalies: Sequence[Anomaly]) -> str:
    """The anomalies as a table: the series, when, which way, the figures per hour, the alert, the largest resources."""
    # Imported here: the report's module brings the collectors' slices, which the calculator's cold start (that
    # imports this module for every hour) should not load for an alert it rarely sends.
    from carbonmeter.report import table

    rows = [
        [
            hour_key(a.start),
            hour_key(a.end),
            f"{a.service}/{a.region}",
            a.kind,
            a.direction,
            _figure(a, a.expected),
            _figure(a, a.observed),
            f"{a.excess:+.4f} kg" if a.kind is Kind.EMISSIONS else "-",
            a.alert,
            ", ".join(c.resource_id for c in a.contributors) or "-",
        ]
        for a in anomalies
    ]
    headers = ["start", "end", "series", "kind", "dir", "expected/h", "observed/h", "excess", "alert", "largest"]
    return table(headers, rows)


def _figure(anomaly: Anomaly, value: float) -> str:
    return f"{value:.4f} kg" if anomaly.kind is Kind.EMISSIONS else f"{value:.1f}"
