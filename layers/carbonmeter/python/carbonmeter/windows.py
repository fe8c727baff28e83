"""The windows of hours the CLI (and later the HTTP API) accepts: whole past hours, and for an estimate, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

from carbonmeter.models import HOUR, hour_key
from carbonmeter.scheduling import CLOUDWATCH_HOURLY_RETENTION

# An estimate runs in the caller's process and makes its CloudWatch requests from there: a week keeps one
# run to minutes and cents, and longer periods are what the deployed pipeline and its backfills are for.
MAX_ESTIMATE_HOURS = 168


class WindowError(ValueError):
    """A window of hours that is refused, with the reason (never anything secret)."""


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    """``[start, end)`` must be non-empty and over: an hour still running has no complete data yet."""
    if end <= start:
        raise WindowError("end must be after start")
    current_hour = _hour_of(now)
    if end > current_hour:
        raise WindowError(f"the window ends in the future: the latest complete hour ends at {hour_key(current_hour)}")


def check_estimate_window(start: datetime, end: datetime, now: datetime) -> None:
    """A window an estimate can answer from CloudWatch: over, at most a week, and still held hourly."""
    check_window(start, end, now)
    # Older hours are gone from CloudWatch: an estimate would only show today's resources with no usage.
    earliest = _hour_of(now) - CLOUDWATCH_HOURLY_RETENTION
    if start < earliest:
        raise WindowError(
            f"start is older than CloudWatch keeps hourly data ({CLOUDWATCH_HOURLY_RETENTION.days} days): "
            f"the earliest hour is {hour_key(earliest)}"
        )
    hours = (end - start) // HOUR
    if hours > MAX_ESTIMATE_HOURS:
        raise WindowError(
            f"the window is {hours} hours; an estimate covers at most {MAX_ESTIMATE_HOURS} (one week): "
            "split it, or deploy the pipeline and backfill"
        )


def _hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
