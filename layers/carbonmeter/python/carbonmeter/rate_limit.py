"""Client-side pacing of GetMetricData, per customer account and region, shared by the whole container.

CloudWatch throttles GetMetricData per account and region (its quota: ``infra/constants.py``). Several connections
may read one customer account, and the collector collects a connection's regions in parallel threads, so the pace is
kept by one token bucket per (account, region) that every thread and every connection of the container draws from:
``METRIC_DATA_LIMITS``, module state that a warm Lambda container keeps between invocations, like the instance-type
catalogue. botocore's retry mode (adaptive by default) still handles what gets throttled anyway (other containers,
the customer's own tools): its retries are its own, paced by its own limiter once CloudWatch throttles.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """At most ``rate`` acquisitions a second, spaced at least 1/``rate`` apart; safe across threads.

    The bucket holds one token: no burst is saved up while idle, so in any second at most ``rate`` requests leave,
    however the callers bunch up. A caller reserves its slot under the lock and sleeps outside it, so threads
    queue in the order they asked and none holds the others up beyond its own wait.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a rate must be positive, not {rate}")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # When the next acquisition may leave: at or before now, it leaves at once.
        self._next_at: float | None = None
        self.waited_seconds = 0.0

    def acquire(self) -> float:
        """Wait for this caller's slot; the seconds waited (0 when a slot was free)."""
        with self._lock:
            now = self._clock()
            at = now if self._next_at is None else max(now, self._next_at)
            self._next_at = at + 1 / self.rate
            wait = at - now
            self.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return wait


class RateLimits:
    """One ``TokenBucket`` per (account, region), made on first use; safe across threads."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def bucket(self, account_id: str, region: str, rate: float) -> TokenBucket:
        """The bucket of ``account_id`` in ``region``; a rate other than the bucket's (settings changed: tests and
        the workbench, never a deployed container) starts a new one."""
        key = (account_id, region)
        with self._lock:
            found = self._buckets.get(key)
            if found is None or found.rate != rate:
                found = TokenBucket(rate, clock=self._clock, sleep=self._sleep)
                self._buckets[key] = found
            return found

    def clear(self) -> None:
        """Forget every bucket (tests start from a cold container)."""
        with self._lock:
            self._buckets.clear()


# The container's GetMetricData buckets: every collection of this container paces its requests here.
METRIC_DATA_LIMITS = RateLimits()
