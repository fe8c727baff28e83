"""The anomaly detector on seeded series: known anomalies caught, a daily pattern and a one-hour blip not flagged."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carbonmeter.insights.anomalies import detection
from carbonmeter.insights.anomalies.detection import Direction, Kind, Method, Thresholds
from carbonmeter.models import HOUR
from carbonmeter.settings import Settings
from tests.support.anomalies import START, daily_series, detect, with_change

THRESHOLDS = Thresholds.of(Settings())
# Late in the series, once the hour-of-week model has its three weeks.
LATE = START + timedelta(weeks=4, days=2, hours=10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_daily_pattern_with_noise_raises_nothing(seed):
    assert detect(daily_series(seed), THRESHOLDS) == []


def test_a_sustained_jump_is_caught_once_with_its_start_and_direction():
    # Given a series whose hours from LATE double for six hours
    series = with_change(daily_series(4), LATE, hours=6, factor=2.0)
    # Then one anomaly is raised, upwards, starting at the jump
    assert detect(series, THRESHOLDS) == [(LATE, Direction.UP)]


def test_a_sustained_drop_is_caught_downwards():
    series = with_change(daily_series(5), LATE, hours=5, factor=0.3)
    assert detect(series, THRESHOLDS) == [(LATE, Direction.DOWN)]


def test_a_one_hour_blip_is_not_flagged_however_large():
    series = with_change(daily_series(6), LATE, hours=1, factor=5.0)
    assert detect(series, THRESHOLDS) == []


def test_two_of_four_hours_do_not_persist_but_three_do():
    flags = {LATE - 3 * HOUR: Direction.UP, LATE - HOUR: None, LATE: Direction.UP}
    assert detection.persistent_start(LATE, flags, Direction.UP, THRESHOLDS) is None
    flags[LATE - HOUR] = Direction.UP
    assert detection.persistent_start(LATE, flags, Direction.UP, THRESHOLDS) == LATE - 3 * HOUR


def test_a_change_below_the_minimum_impact_is_not_flagged():
    # Given a tiny series (grams an hour) that triples: far beyond its spread, but a few grams only
    series = with_change({h: v / 1000 for h, v in daily_series(7).items()}, LATE, hours=6, factor=3.0)
    assert detect(series, THRESHOLDS) == []
    assert detect(series, Thresholds(min_impact_kgco2e=0.001)) == [(LATE, Direction.UP)]


def test_while_history_is_short_the_same_hour_of_day_is_the_model():
    # Given two days of history only: the hour of the week has none, the hour of the day has two
    model = detection.baseline([], [2.0, 2.2], THRESHOLDS)
    assert model is not None
    assert model.method is Method.HOUR_OF_DAY
    assert model.expected == pytest.approx(2.1)
    # and with three weeks the hour of the week takes over
    weekly = detection.baseline([1.0, 1.1, 0.9], [5.0] * 7, THRESHOLDS)
    assert weekly is not None
    assert weekly.method is Method.HOUR_OF_WEEK
    assert weekly.expected == pytest.approx(1.0)
    # and with nothing stored there is no model, so nothing is flagged
    assert detection.baseline([], [], THRESHOLDS) is None


def test_a_flat_history_has_a_mad_of_zero_and_still_a_finite_z():
    model = detection.baseline([], [1.0, 1.0, 1.0], THRESHOLDS)
    assert model is not None
    assert model.mad == 0
    # The spread floor (10% of the median) stands in: 0.6745 * 0.5 / 0.1
    scored = detection.score(1.5, model, Kind.EMISSIONS, THRESHOLDS)
    assert scored.z == pytest.approx(3.3725, abs=1e-3)
    assert scored.flag is None
    assert detection.score(1.0, model, Kind.EMISSIONS, THRESHOLDS).z == 0
    # From nothing at all, any growth is a finite (capped) z, and flagged when large enough
    zero = detection.baseline([], [0.0], THRESHOLDS)
    assert zero is not None
    grown = detection.score(1.0, zero, Kind.EMISSIONS, THRESHOLDS)
    assert grown.z == detection.Z_CAP
    assert grown.flag is Direction.UP


def test_the_robust_z_score_is_the_mad_formula():
    assert detection.robust_z(14.0, 10.0, 2.0, 0.1) == pytest.approx(0.6745 * 4 / 2)


def test_a_jump_in_the_count_of_resources_is_caught_and_a_one_resource_change_is_not():
    counts = dict.fromkeys(daily_series(8), 10.0)
    assert detect(with_change(counts, LATE, hours=1000, factor=1.1), THRESHOLDS, Kind.RESOURCES) == []
    jumped = with_change(counts, LATE, hours=1000, factor=2.0)
    assert detect(jumped, THRESHOLDS, Kind.RESOURCES) == [(LATE, Direction.UP)]
