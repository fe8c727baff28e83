"""Export: a connection's footprint over a window, one row per period and group, as CSV or JSON Lines.

The use case (``export_rows``) yields the rows as DynamoDB's pages (or, by resource, the hours' partitions)
arrive; the presenters turn each row into its line at once, so an export of a year of hourly rows holds one page
and one period's groups, never the year (``make benchmark`` measures the peak). Every row carries the central
figure with its low and high bounds, the methodology versions that made it and the flags that shaped it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from carbonmeter import queries
from carbonmeter.aws import ClientFactory
from carbonmeter.models import hour_key
from carbonmeter.periods import FIGURES, Granularity, GroupBy
from carbonmeter.report import embodied_not_modelled
from carbonmeter.series import FootprintRow
from carbonmeter.settings import Settings


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


# Several values in one cell (methodology versions, flags, resource types) are joined by this.
JOINED = ";"
COLUMNS: tuple[str, ...] = (
    "period_start",
    "granularity",
    "by",
    "group",
    "service",
    "region",
    "resource_id",
    "resource_types",
    "resources",
    "hours_covered",
    "hours_in_period",
    *(f"{name}{end}" for name in FIGURES for end in ("", "_low", "_high")),
    "embodied_not_modelled",
    "methodology_version",
    "flags",
)


def export_rows(
    clients: ClientFactory,
    settings: Settings,
    connection_id: str,
    window: tuple[datetime, datetime],
    granularity: Granularity,
    by: GroupBy,
    now: datetime,
) -> Iterator[FootprintRow]:
    """A known connection's rows over ``window``, read lazily; the window and the id are checked at once."""
    return queries.connection_rows(clients, settings, connection_id, window, granularity, by, now)


def flat(row: FootprintRow) -> dict[str, Any]:
    """A row as the export's columns: a figure's central, low and high side by side, lists joined."""
    figures = {
        f"{name}{end}": getattr(getattr(row, name), field)
        for name in FIGURES
        for end, field in (("", "central"), ("_low", "low"), ("_high", "high"))
    }
    return {
        "period_start": hour_key(row.period_start),
        "granularity": str(row.granularity),
        "by": str(row.group_by),
        "group": row.group,
        "service": row.service or "",
        "region": row.region or "",
        "resource_id": row.resource_id or "",
        "resource_types": JOINED.join(row.resource_types),
        "resources": row.resources,
        "hours_covered": row.hours_covered,
        "hours_in_period": row.hours_in_period,
        **figures,
        "embodied_not_modelled": _embodied_reason(row),
        "methodology_version": JOINED.join(row.methodology_versions),
        "flags": JOINED.join(row.flags),
    }


def _embodied_reason(row: FootprintRow) -> str:
    # A service the methodology gives no embodied figure: its 0 says "not modelled", not "none".
    return (embodied_not_modelled(row.service) or "") if row.service else ""


def csv_lines(rows: Iterable[FootprintRow]) -> Iterator[str]:
    """The header, then one CSV line per row, each yielded as soon as its row is read."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    yield _taken(buffer)
    for row in rows:
        writer.writerow(flat(row))
        yield _taken(buffer)


def _taken(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def json_lines(rows: Iterable[FootprintRow]) -> Iterator[str]:
    """JSON Lines: one object per row and line, its figures as {central, low, high}, lists as lists."""
    for row in rows:
        document = row.model_dump(mode="json")
        document["by"] = document.pop("group_by")
        document["period_start"] = hour_key(row.period_start)
        document["embodied_not_modelled"] = _embodied_reason(row) or None
        yield json.dumps(document, sort_keys=True) + "\n"


def lines(rows: Iterable[FootprintRow], export_format: ExportFormat) -> Iterator[str]:
    return csv_lines(rows) if export_format is ExportFormat.CSV else json_lines(rows)


__all__ = ["COLUMNS", "ExportFormat", "csv_lines", "export_rows", "flat", "json_lines", "lines"]
