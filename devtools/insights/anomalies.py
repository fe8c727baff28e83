"""The demo report's anomalies part: what the detector stored over the run, one line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonmeter.insights.anomalies.alerts import summary
from carbonmeter.insights.anomalies.detection import Kind
from carbonmeter.insights.anomalies.watch import connection_anomalies

if TYPE_CHECKING:  # the registry imports this module: a runtime import of it would be circular
    from devtools.insights import InsightContext


def anomalies_part(context: InsightContext) -> str:
    found = connection_anomalies(context.clients, context.settings, context.connection_id, context.start, context.end)
    if not found:
        return ""
    lines = [
        f"Anomalies: {len(found)} (carbonmeter anomalies; docs/insights.md#anomalies)",
        *(f"  {anomaly.kind:<9}  {summary(anomaly)}; alert {anomaly.alert}" for anomaly in found),
    ]
    # The resources behind a change of CO2e say more than those of a count.
    largest = next((a for a in sorted(found, key=lambda a: a.kind != Kind.EMISSIONS) if a.contributors), None)
    if largest is not None:
        # Types and figures, not ids: the embedded AWS draws new resource ids every run, the demo's text is fixed.
        names = ", ".join(f"{c.resource_type} ({c.kgco2e:.4f} kg)" for c in largest.contributors)
        lines.append(f"  largest in {largest.service}/{largest.region}, an hour: {names}")
    return "\n".join(lines)
