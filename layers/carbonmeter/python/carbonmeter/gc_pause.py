"""The cyclic garbage collector paused while a large piece of work runs: a collection, an HTTP API answer.

Such work only grows what it holds (parsed answers, models, records: hundreds of thousands of objects), and every
full pass of the collector walks all of it again, finding next to nothing: at 10,000 resources half of the
collector's CPU went to such passes, and a third of a year's footprint through the API (docs/benchmarks.md).
Memory is still freed by reference counting; the few cycles left wait for the first pass after.
"""

from __future__ import annotations

import gc
import threading


class _GcPause:
    """Off while any holder runs, back on (if it was) when the last one running ends: threads share one collector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._restore = False

    def __enter__(self) -> None:
        with self._lock:
            self._running += 1
            if self._running == 1:
                self._restore = gc.isenabled()
                gc.disable()

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0 and self._restore:
                gc.enable()


# Entered by every collect() and every API answer: work running in another thread keeps it off until both end.
gc_paused = _GcPause()
