"""Anomaly detection, pure: the expected hour of a series, its robust z-score, persistence, impact and direction.

A series is one connection's region x service. Each hour of it has two figures, its kg CO2e and its count of
resources, and each is judged against the same hour of the week over recent weeks (median and MAD), or, while
fewer weeks are stored, the same hour of the day over recent days. ``docs/insights.md`` ("Anomalies") gives the
method and its limits.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from carbonmeter.models import HOUR
from carbonmeter.settings import Settings

WEEK = timedelta(days=7)
DAY = timedelta(days=1)
# 0.6745 is the 0.75 quantile of the standard normal: it makes the MAD of normal data comparable to a z-score.
MAD_TO_Z = 0.6745
# A z-score is stored and shown; a spread of almost nothing would make it astronomically large.
Z_CAP = 999.0
# The count of resources is an integer: a spread below half a resource is no spread.
RESOURCE_SPREAD_FLOOR = 0.5
EMISSIONS_SPREAD_FLOOR = 1e-9


class Kind(StrEnum):
    EMISSIONS = "emissions"
    RESOURCES = "resources"


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class Method(StrEnum):
    HOUR_OF_WEEK = "hour_of_week"
    HOUR_OF_DAY = "hour_of_day"


@dataclass(frozen=True)
class Thresholds:
    """The detector's settings (``Settings.anomaly_*``), read once."""

    z: float = 3.5
    min_impact_kgco2e: float = 0.02
    min_resource_jump: int = 2
    persistence_hours: int = 4
    persistence_min: int = 3
    quiet_hours: int = 24
    baseline_weeks: int = 8
    min_weeks: int = 3
    baseline_days: int = 7
    min_days: int = 1
    spread_floor: float = 0.1

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(
            z=settings.anomaly_z_threshold,
            min_impact_kgco2e=settings.anomaly_min_impact_kgco2e,
            min_resource_jump=settings.anomaly_min_resource_jump,
            persistence_hours=settings.anomaly_persistence_hours,
            persistence_min=min(settings.anomaly_persistence_min, settings.anomaly_persistence_hours),
            quiet_hours=settings.anomaly_quiet_hours,
            baseline_weeks=settings.anomaly_baseline_weeks,
            min_weeks=min(settings.anomaly_min_weeks, settings.anomaly_baseline_weeks),
            baseline_days=settings.anomaly_baseline_days,
            min_days=min(settings.anomaly_min_days, settings.anomaly_baseline_days),
            spread_floor=settings.anomaly_spread_floor,
        )

    def min_impact(self, kind: Kind) -> float:
        return self.min_impact_kgco2e if kind is Kind.EMISSIONS else float(self.min_resource_jump)


class Baseline(BaseModel):
    """The expected value of an hour: a median, its MAD, and which history it came from."""

    model_config = ConfigDict(frozen=True)

    expected: float
    mad: float
    method: Method
    points: int


class Score(BaseModel):
    """One figure of one series-hour against its baseline; ``flag`` is set when the hour counts as anomalous."""

    model_config = ConfigDict(frozen=True)

    observed: float
    expected: float
    z: float
    method: Method
    flag: Direction | None = None


def baseline_hours(hour: datetime, thresholds: Thresholds) -> tuple[list[datetime], list[datetime]]:
    """The hours the model of ``hour`` reads: the same hour of recent weeks, and of recent days (newest first)."""
    weeks = [hour - k * WEEK for k in range(1, thresholds.baseline_weeks + 1)]
    days = [hour - k * DAY for k in range(1, thresholds.baseline_days + 1)]
    return weeks, days


def persistence_hours(hour: datetime, thresholds: Thresholds) -> list[datetime]:
    """The hours before ``hour`` within its persistence window, oldest first."""
    return [hour - k * HOUR for k in range(thresholds.persistence_hours - 1, 0, -1)]


def baseline(weeks: Sequence[float], days: Sequence[float], thresholds: Thresholds) -> Baseline | None:
    """The hour-of-week model once enough weeks are stored, else the hour-of-day one; None while neither has enough.

    ``weeks`` and ``days`` hold the figure of every stored hour among ``baseline_hours`` (a series absent from a
    stored hour counts as 0 there).
    """
    if len(weeks) >= thresholds.min_weeks:
        return _baseline(weeks, Method.HOUR_OF_WEEK)
    if len(days) >= thresholds.min_days:
        return _baseline(days, Method.HOUR_OF_DAY)
    return None


def _baseline(values: Sequence[float], method: Method) -> Baseline:
    middle = statistics.median(values)
    mad = statistics.median(abs(value - middle) for value in values)
    return Baseline(expected=middle, mad=mad, method=method, points=len(values))


def robust_z(observed: float, expected: float, mad: float, floor: float) -> float:
    """0.6745 (x - median) / MAD, with the MAD never below ``floor`` (> 0): a flat history has a MAD of 0."""
    z = MAD_TO_Z * (observed - expected) / max(mad, floor)
    return max(-Z_CAP, min(Z_CAP, z))


def score(observed: float, model: Baseline, kind: Kind, thresholds: Thresholds) -> Score:
    """The hour's z-score, flagged (with its direction) when it exceeds the threshold by at least the minimum impact."""
    absolute = RESOURCE_SPREAD_FLOOR if kind is Kind.RESOURCES else EMISSIONS_SPREAD_FLOOR
    floor = max(thresholds.spread_floor * abs(model.expected), absolute)
    z = robust_z(observed, model.expected, model.mad, floor)
    large = abs(z) > thresholds.z and abs(observed - model.expected) >= thresholds.min_impact(kind)
    flag = (Direction.UP if z > 0 else Direction.DOWN) if large else None
    return Score(observed=observed, expected=model.expected, z=round(z, 3), method=model.method, flag=flag)


def persistent_start(
    hour: datetime, flags: Mapping[datetime, Direction | None], direction: Direction, thresholds: Thresholds
) -> datetime | None:
    """The first flagged hour of the window ending at ``hour`` when the window persists in ``direction``, else None.

    ``flags`` holds the flag of ``hour`` and of the hours before it in the window (a missing hour is unflagged).
    A single hour, however large, never persists unless the window is one hour long.
    """
    if flags.get(hour) is not direction:
        return None
    window = [*persistence_hours(hour, thresholds), hour]
    flagged = [h for h in window if flags.get(h) is direction]
    return flagged[0] if len(flagged) >= thresholds.persistence_min else None
