"""Seeded hourly series with known anomalies, and the pure detector run over them hour by hour."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import UTC, datetime

from carbonmeter.insights.anomalies import detection
from carbonmeter.insights.anomalies.detection import Direction, Kind, Thresholds
from carbonmeter.models import HOUR

START = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday
WEEKS = 6


def daily_series(seed: int, hours: int = WEEKS * 168, base: float = 1.0, swing: float = 0.6) -> dict[datetime, float]:
    """kg CO2e an hour with a daily cycle (peak mid-afternoon), a quieter weekend and 3% noise."""
    rng = random.Random(seed)
    series = {}
    for offset in range(hours):
        hour = START + offset * HOUR
        cycle = 0.5 + 0.5 * math.cos(2 * math.pi * (hour.hour - 15) / 24)
        weekend = 0.7 if hour.weekday() >= 5 else 1.0
        series[hour] = (base + swing * cycle) * weekend * rng.uniform(0.97, 1.03)
    return series


def with_change(series: Mapping[datetime, float], start: datetime, hours: int, factor: float) -> dict[datetime, float]:
    """``series`` with ``hours`` hours from ``start`` multiplied by ``factor``."""
    changed = dict(series)
    for offset in range(hours):
        if (hour := start + offset * HOUR) in changed:
            changed[hour] *= factor
    return changed


def detect(
    series: Mapping[datetime, float], thresholds: Thresholds, kind: Kind = Kind.EMISSIONS
) -> list[tuple[datetime, Direction]]:
    """The (start, direction) of every anomaly the detector raises over ``series``, in order, hour by hour.

    A persistent hour whose window touches the previous anomaly of the same direction continues it.
    """
    flags: dict[datetime, Direction | None] = {}
    found: list[tuple[datetime, Direction]] = []
    last: dict[Direction, datetime] = {}
    for hour in sorted(series):
        weeks, days = detection.baseline_hours(hour, thresholds)
        model = detection.baseline(
            [series[h] for h in weeks if h in series], [series[h] for h in days if h in series], thresholds
        )
        if model is None:
            flags[hour] = None
            continue
        flag = detection.score(series[hour], model, kind, thresholds).flag
        flags[hour] = flag
        if flag is None:
            continue
        start = detection.persistent_start(hour, flags, flag, thresholds)
        if start is None:
            continue
        if flag in last and start - last[flag] <= thresholds.persistence_hours * HOUR:
            last[flag] = hour
            continue
        found.append((start, flag))
        last[flag] = hour
    return found
