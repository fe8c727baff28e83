"""The demo report's insights section: one short part per insight, registered here in the order printed.

Each part is a function of the finished demo run that returns its text (a heading line and a few lines), or an
empty string when it has nothing to say; ``devtools/demo.py`` prints them after the footprint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from carbonmeter.aws import ClientFactory
from carbonmeter.settings import Settings
from devtools.insights import anomalies, aws_figures, recommendations, trends


@dataclass(frozen=True)
class InsightContext:
    """What a part of the section may read: the demo's stores and clients, its connection and hours."""

    settings: Settings
    clients: ClientFactory
    connection_id: str
    start: datetime
    end: datetime


InsightPart = Callable[[InsightContext], str]

# One line per insight; each module lives beside this one (devtools/insights/<insight>.py).
INSIGHT_PARTS: list[InsightPart] = [
    trends.trends_text,
    aws_figures.aws_figures_part,  # cost beside carbon, and the reconciliation with AWS's figures
    anomalies.anomalies_part,
    recommendations.recommendations_part,
]


def insights_text(context: InsightContext) -> str:
    """The section: every registered part that has something to say, under one heading."""
    parts = [text for part in INSIGHT_PARTS if (text := part(context).strip())]
    if not parts:
        return ""
    return "\n\n".join(["Insights", *parts])
