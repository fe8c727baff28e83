"""Collection windows: how many hours one collection of a connection reads.

GetMetricData bills each metric requested, whatever the number of datapoints, so reading a window of hours with one
query per metric (period 3600: one datapoint an hour) costs what one hour does: a 24-hour window costs 1/24 of
hourly collection for the same records. The price is freshness: an hour is stored once its whole window has
settled.

Windows are aligned in UTC (a 6-hour window covers 00-06, 06-12, ...; a 24-hour one the UTC day), so that every
run, retry and backfill agrees on them. The lengths divide a day, so no window crosses midnight.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

WINDOW_HOURS = (1, 3, 6, 12, 24)
DEFAULT_WINDOW_HOURS = 1
MAX_WINDOW_HOURS = max(WINDOW_HOURS)
_HOUR = timedelta(hours=1)


def allowed() -> str:
    """The allowed lengths as a sentence names them: ``1, 3, 6, 12 or 24``."""
    *first, last = (str(hours) for hours in WINDOW_HOURS)
    return f"{', '.join(first)} or {last}"


def check_window_hours(value: int) -> int:
    """``value`` if it is an allowed window length, else a ValueError naming the allowed ones."""
    if value not in WINDOW_HOURS:
        raise ValueError(f"a collection window is {allowed()} hours, not {value}")
    return value


# A collection window's length in hours, checked: one of WINDOW_HOURS.
WindowHours = Annotated[int, AfterValidator(check_window_hours)]


def window_start(hour: datetime, window_hours: int) -> datetime:
    """The start of the UTC-aligned window of ``window_hours`` that holds ``hour``."""
    hour = hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour - (hour.hour % window_hours) * _HOUR


def window_end(hour: datetime, window_hours: int) -> datetime:
    """The end of the window that holds ``hour``."""
    return window_start(hour, window_hours) + window_hours * _HOUR


def settled_windows_end(settled: datetime, window_hours: int) -> datetime:
    """The end of the latest whole window that ends by ``settled`` (the end of the latest settled hour)."""
    return window_start(settled, window_hours)


def by_window(hours: Iterable[datetime], window_hours: int) -> dict[datetime, list[datetime]]:
    """``hours`` grouped by the start of their window, each group sorted, windows in order."""
    groups: dict[datetime, list[datetime]] = {}
    for hour in sorted(set(hours)):
        groups.setdefault(window_start(hour, window_hours), []).append(hour)
    return groups


def collections_per_month(window_hours: int, hours_per_month: float) -> float:
    """Collections a connection makes in a month at ``window_hours``."""
    return hours_per_month / window_hours
