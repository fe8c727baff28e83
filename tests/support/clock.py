"""A clock whose sleep only moves its own time: pacing checked without waiting."""

from __future__ import annotations

import threading


class FakeClock:
    """``clock()`` reads the time; ``sleep(s)`` moves it on by ``s`` at once and remembers each wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
