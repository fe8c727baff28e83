"""One line naming an error, for statuses, connections and log lines.

Its own module, apart from ``collection``, so that the calculator and the batch processor name errors without
importing the collectors (a cold start's cost: docs/benchmarks.md, "Cold starts").
"""

from __future__ import annotations

from botocore.exceptions import ClientError

_MAX_ERROR_TEXT = 300


def describe_error(error: BaseException) -> str:
    """One line naming an error, short enough to store and show."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        text = f"{details.get('Code', 'Error')}: {details.get('Message', '')}".rstrip(": ")
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(text.split())[:_MAX_ERROR_TEXT]
