"""The external emissions API's key: a fixed one, or read from AWS Secrets Manager when first needed and kept."""

from __future__ import annotations

import json
import threading
from typing import Protocol

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from carbonmeter.aws import ClientFactory

# Long enough to make one read per warm Lambda container in practice, short enough to pick up a rotation.
KEY_MAX_AGE_SECONDS = 900


class ApiKeySource(Protocol):
    """Where the provider gets its key; ``refreshed`` is asked after the API refused the current one."""

    def __call__(self) -> str: ...

    def refreshed(self) -> str: ...


class StaticKey:
    """A key that never changes (a local API, a test)."""

    def __init__(self, key: str) -> None:
        self._key = api_key_from(key)

    def __call__(self) -> str:
        return self._key

    def refreshed(self) -> str:
        return self._key

    def __repr__(self) -> str:
        return "StaticKey(<hidden>)"


class SecretsManagerKey:
    """Callable returning the API key stored in secret ``secret_id``.

    The secret is either the key itself or a JSON object with an ``api_key`` member. Nothing is read
    until the first call; the value never appears in this object's repr or in any message.
    """

    def __init__(self, clients: ClientFactory, secret_id: str, max_age_seconds: int = KEY_MAX_AGE_SECONDS) -> None:
        self.secret_id = secret_id
        self._clients = clients
        self._max_age = max_age_seconds
        self._secrets: SecretsProvider | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        return self._read(fresh=False)

    def refreshed(self) -> str:
        """The key as stored now, bypassing the cache: after a rotation the cached key is refused until it expires."""
        return self._read(fresh=True)

    def _read(self, fresh: bool) -> str:
        with self._lock:
            if self._secrets is None:
                self._secrets = SecretsProvider(boto3_client=self._clients.client("secretsmanager"))
            value = self._secrets.get(self.secret_id, max_age=self._max_age, force_fetch=fresh)
        return api_key_from(value)

    def __repr__(self) -> str:
        return f"SecretsManagerKey({self.secret_id!r})"


def api_key_from(value: object) -> str:
    """The key in a secret's value: the whole string, or the ``api_key`` member of a JSON object."""
    text = value.decode() if isinstance(value, bytes) else value
    if not isinstance(text, str):
        raise ValueError("the secret is not text")
    text = text.strip()
    if text.startswith("{"):
        member = json.loads(text).get("api_key")
        text = member.strip() if isinstance(member, str) else ""
    if not text:
        raise ValueError("the secret holds no API key")
    return text
