"""HTTP sessions for remote providers: bounded retries with backoff, and failures told apart by kind."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util import Retry

from carbonmeter.emissions.providers.base import (
    REASON_BAD_RESPONSE,
    REASON_SERVER_ERROR,
    REASON_TIMEOUT,
    REASON_UNREACHABLE,
    ProviderError,
)

# Retries after the first attempt; the status codes a busy or restarting API answers with.
RETRIES = 3
BACKOFF_FACTOR = 0.2
RETRY_STATUSES = (429, 500, 502, 503, 504)


def retrying_session(retries: int = RETRIES, backoff_factor: float = BACKOFF_FACTOR) -> requests.Session:
    """A session whose POSTs are retried on connection errors, timeouts and ``RETRY_STATUSES``, with backoff."""
    retry = Retry(
        total=retries,
        backoff_factor=backoff_factor,
        status_forcelist=RETRY_STATUSES,
        # The estimate calls are read-only computations on the remote side, so repeating a POST is safe.
        allowed_methods=frozenset({"POST", "GET"}),
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def transport_error(exc: requests.RequestException) -> ProviderError:
    """The ``ProviderError`` for a request that failed after its retries."""
    return ProviderError(_reason(exc), type(exc).__name__)


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return REASON_TIMEOUT
    if isinstance(exc, requests.exceptions.RetryError):
        return REASON_SERVER_ERROR
    if isinstance(exc, requests.ConnectionError):
        # Read timeouts that exhausted the retries surface as connection errors wrapping urllib3's error.
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, MaxRetryError) and isinstance(cause.reason, ReadTimeoutError):
            return REASON_TIMEOUT
        return REASON_UNREACHABLE
    if isinstance(exc, requests.HTTPError):
        return REASON_SERVER_ERROR
    return REASON_BAD_RESPONSE
