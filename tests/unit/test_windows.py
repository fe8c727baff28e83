"""Which windows of hours an estimate (and the stored-data commands) accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter.scheduling import CLOUDWATCH_HOURLY_RETENTION
from carbonmeter.windows import MAX_ESTIMATE_HOURS, WindowError, check_estimate_window, check_window

NOW = datetime(2026, 11, 23, 14, 7, tzinfo=UTC)
CURRENT_HOUR = datetime(2026, 11, 23, 14, tzinfo=UTC)
H = timedelta(hours=1)


def test_an_estimate_may_cover_one_week_but_not_an_hour_more():
    check_estimate_window(CURRENT_HOUR - MAX_ESTIMATE_HOURS * H, CURRENT_HOUR, NOW)
    with pytest.raises(WindowError, match=f"the window is {MAX_ESTIMATE_HOURS + 1} hours; .* at most 168"):
        check_estimate_window(CURRENT_HOUR - (MAX_ESTIMATE_HOURS + 1) * H, CURRENT_HOUR, NOW)


def test_an_estimate_may_start_no_earlier_than_cloudwatch_keeps_hourly_data():
    # Given the oldest hour CloudWatch still holds hourly, and the hour before it
    earliest = CURRENT_HOUR - CLOUDWATCH_HOURLY_RETENTION
    check_estimate_window(earliest, earliest + 6 * H, NOW)
    # Then the window one hour older is refused, naming the earliest hour it could start at
    with pytest.raises(WindowError, match=r"older than CloudWatch keeps hourly data \(455 days\).*2025-08-25T14"):
        check_estimate_window(earliest - H, earliest + 5 * H, NOW)


def test_a_window_in_2020_is_refused():
    with pytest.raises(WindowError, match="older than CloudWatch keeps"):
        check_estimate_window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 6, tzinfo=UTC), NOW)


@pytest.mark.parametrize("check", [check_window, check_estimate_window])
def test_every_window_is_non_empty_and_over(check):
    with pytest.raises(WindowError, match="end must be after start"):
        check(CURRENT_HOUR - H, CURRENT_HOUR - H, NOW)
    # the current hour is still running: its data is not complete
    with pytest.raises(WindowError, match="ends in the future: the latest complete hour ends at 2026-11-23T14"):
        check(CURRENT_HOUR - H, CURRENT_HOUR + H, NOW)


def test_stored_data_windows_have_no_cap():
    # status and report read what is stored, which the pipeline may have kept for longer than CloudWatch does
    check_window(datetime(2020, 1, 1, tzinfo=UTC), CURRENT_HOUR, NOW)
