"""What a Lambda container builds once and reuses across invocations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

from carbonmeter.aws import ClientFactory
from carbonmeter.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    clients: ClientFactory
    # What time it is: every "has this hour ended?" check reads it, so a local run can simulate the hour.
    clock: Callable[[], datetime] = field(default=utc_now)


_override: list[Runtime] = []


@cache
def _from_environment() -> Runtime:
    settings = Settings.from_env()
    # CarbonMeter's own tables and queues: standard retries, since an adaptive client would carry
    # one throttle's slowdown into every later invocation of a warm container.
    return Runtime(settings=settings, clients=ClientFactory(settings=settings, retry_mode="standard"))


def runtime() -> Runtime:
    """Settings and a client factory, built from the environment once per container."""
    return _override[-1] if _override else _from_environment()


def reset() -> None:
    """Read the environment again at the next ``runtime()`` call."""
    _from_environment.cache_clear()


@contextmanager
def use_runtime(replacement: Runtime) -> Iterator[Runtime]:
    """Run the handlers with ``replacement`` (local runs and tests inject hooks this way)."""
    _override.append(replacement)
    try:
        yield replacement
    finally:
        _override.remove(replacement)
