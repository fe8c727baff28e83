"""What every remote emissions API reached with a key shares: key handling, status codes, retries and fallback.

``KeyedApiProvider`` sends the services its slices declare (``covered``) and gives the others the builtin figures,
unflagged. Covered records go out in chunks (``chunks``); a chunk that fails becomes ``Unestimated`` with the
failure's reason, and after a failure that says the API cannot be reached or refuses the key, the remaining chunks
are not tried. A refused key is read again once, bypassing the cache, so a rotation takes effect at once. The
``http`` and ``oxygenit`` providers differ only in their chunks, their request and answer, and their key header.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import requests

from carbonmeter.emissions.providers.api_key import ApiKeySource
from carbonmeter.emissions.providers.base import (
    REASON_REJECTED,
    REASON_SECRET_UNAVAILABLE,
    REASON_SERVER_ERROR,
    REASON_TIMEOUT,
    REASON_UNREACHABLE,
    Outcome,
    ProviderError,
    Unestimated,
    strict,
)
from carbonmeter.emissions.providers.builtin import BuiltinProvider
from carbonmeter.emissions.providers.transport import retrying_session, transport_error
from carbonmeter.models import EmissionRecord, Service, UsageRecord

REASON_UNAUTHORIZED = "unauthorized"
# Failures that say the API cannot be reached, or will refuse every request: the rest of the batch is not tried.
BATCH_BREAKING = frozenset({REASON_TIMEOUT, REASON_UNREACHABLE, REASON_UNAUTHORIZED})

logger = logging.getLogger(__name__)


class KeyedApiProvider(ABC):
    """A remote API's figures for the services in ``covered``; the others from builtin. Subclasses set:

    - ``name`` and ``covered`` (the services whose slices declare the provider);
    - ``chunks``: how covered records are grouped into units of work (a request, or a record's requests);
    - ``estimate_chunk``: one unit's outcomes, sending requests with ``post``;
    - ``auth_headers``: how the key travels.
    """

    name: str
    covered: ClassVar[frozenset[Service]]

    def __init__(
        self,
        base_url: str,
        api_key_source: ApiKeySource,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        builtin: BuiltinProvider | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key_source
        self._session = session or retrying_session()
        self._builtin = builtin or BuiltinProvider()

    def estimate(self, usages: Sequence[UsageRecord]) -> list[EmissionRecord]:
        """Every record, or ``ProviderError`` for the first one the API cannot estimate (no fallback)."""
        return strict(self, usages)

    def try_estimate(self, usages: Sequence[UsageRecord]) -> list[Outcome]:
        usages = list(usages)
        sent = [index for index, usage in enumerate(usages) if usage.service in self.covered]
        kept = [index for index, usage in enumerate(usages) if usage.service not in self.covered]
        outcomes: dict[int, Outcome] = dict(zip(kept, self._builtin.estimate([usages[i] for i in kept]), strict=True))
        outcomes.update(zip(sent, self._try_covered([usages[i] for i in sent]), strict=True))
        return [outcomes[index] for index in range(len(usages))]

    # What a subclass provides.

    @abstractmethod
    def chunks(self, usages: list[UsageRecord]) -> list[list[UsageRecord]]:
        """The covered records grouped into units of work, in order."""

    @abstractmethod
    def estimate_chunk(self, chunk: list[UsageRecord], key: str) -> list[Outcome]:
        """One outcome per record of ``chunk``; ``ProviderError`` when the whole chunk failed."""

    @abstractmethod
    def auth_headers(self, key: str) -> dict[str, str]:
        """The request headers carrying ``key``."""

    # The shared machinery.

    def post(self, path: str, body: dict[str, Any], key: str) -> requests.Response:
        """A 2xx answer to ``POST base_url + path``, or ``ProviderError`` with the failure's reason."""
        try:
            response = self._session.post(
                self.base_url + path,
                json=body,
                headers=self.auth_headers(key),
                timeout=(self.timeout, self.timeout),
            )
        except requests.RequestException as exc:
            raise transport_error(exc) from None
        if response.status_code in (401, 403):
            raise ProviderError(REASON_UNAUTHORIZED, f"HTTP {response.status_code}")
        if 400 <= response.status_code < 500:
            raise ProviderError(REASON_REJECTED, f"HTTP {response.status_code}")
        if response.status_code >= 500:
            raise ProviderError(REASON_SERVER_ERROR, f"HTTP {response.status_code}")
        return response

    def _try_covered(self, usages: list[UsageRecord]) -> list[Outcome]:
        if not usages:
            return []
        key = self._key(self._api_key)
        outcomes: list[Outcome] = []
        broken: ProviderError | None = None
        for chunk in self.chunks(usages):
            if broken is not None:
                outcomes.extend(Unestimated(usage, broken.reason) for usage in chunk)
                continue
            try:
                chunk_outcomes, key = self._estimate_chunk_with_current_key(chunk, key)
                outcomes.extend(chunk_outcomes)
            except ProviderError as exc:
                outcomes.extend(Unestimated(usage, exc.reason) for usage in chunk)
                if exc.reason in BATCH_BREAKING:
                    broken = exc
        return outcomes

    def _estimate_chunk_with_current_key(self, chunk: list[UsageRecord], key: str) -> tuple[list[Outcome], str]:
        """The chunk's outcomes and the key that worked; a refused key is read again once, for a rotated secret."""
        try:
            return self.estimate_chunk(chunk, key), key
        except ProviderError as exc:
            if exc.reason != REASON_UNAUTHORIZED:
                raise
            fresh = self._key(self._api_key.refreshed)
            if fresh == key:
                raise
            logger.info("emissions API %s refused the cached key; retrying with the key as stored now", self.name)
            return self.estimate_chunk(chunk, fresh), fresh

    @staticmethod
    def _key(read: Callable[[], str]) -> str:
        try:
            return read()
        except Exception as exc:
            # Only the exception's type: the text of a secrets error is not ours to vouch for.
            raise ProviderError(REASON_SECRET_UNAVAILABLE, type(exc).__name__) from None
