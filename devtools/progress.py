"""Progress lines of the local tools: on stderr, flushed at once, so that stdout carries only the result."""

from __future__ import annotations

import sys


def say(message: str, end: str = "\n") -> None:
    print(message, end=end, file=sys.stderr, flush=True)
