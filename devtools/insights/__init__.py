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
INSIGHT_PARTS: list[InsightPart] = []


def insights_text(context: InsightContext) -> str:
    """The section: every registered part that has something to say, under one heading."""
    parts = [text for part in INSIGHT_PARTS if (text := part(context).strip())]
    if not parts:
        return ""
    return "\n\n".join(["Insights", *parts])


# Each part's module imports InsightContext from here, so the parts are imported once it is defined.
from devtools.insights.anomalies import anomalies_part  # noqa: E402

INSIGHT_PARTS.append(anomalies_part)
