"""Where the calculator gets its figures: the builtin methodology, a Boavizta API server, an external API or OxygenIT.

``provider_for(settings, clients).estimate(usages)`` is the whole interface; see ``docs/providers.md``.

The remote providers (and ``requests`` under them) are imported on first use of their names, not with this package:
a calculator on the builtin methodology never loads them (a cold start's cost: docs/benchmarks.md, "Cold starts").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from carbonmeter.emissions.providers.base import (
    FALLBACK_FLAG_PREFIX,
    EmissionsProvider,
    PartialProvider,
    ProviderError,
    Unestimated,
    fallback_flag,
)
from carbonmeter.emissions.providers.builtin import BuiltinProvider
from carbonmeter.emissions.providers.factory import provider_for

if TYPE_CHECKING:
    from carbonmeter.emissions.providers.api_key import ApiKeySource, SecretsManagerKey, StaticKey
    from carbonmeter.emissions.providers.boavizta import BoaviztaProvider
    from carbonmeter.emissions.providers.fallback import FallbackProvider
    from carbonmeter.emissions.providers.http_api import HttpProvider
    from carbonmeter.emissions.providers.oxygenit import OxygenItProvider
    from carbonmeter.emissions.providers.transport import retrying_session

PROVIDER_NAMES = ("builtin", "boavizta", "http", "oxygenit")

# The names imported on first use, and the module of each.
_LAZY = {
    "ApiKeySource": "api_key",
    "SecretsManagerKey": "api_key",
    "StaticKey": "api_key",
    "BoaviztaProvider": "boavizta",
    "FallbackProvider": "fallback",
    "HttpProvider": "http_api",
    "OxygenItProvider": "oxygenit",
    "retrying_session": "transport",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


__all__ = [
    "FALLBACK_FLAG_PREFIX",
    "PROVIDER_NAMES",
    "ApiKeySource",
    "BoaviztaProvider",
    "BuiltinProvider",
    "EmissionsProvider",
    "FallbackProvider",
    "HttpProvider",
    "OxygenItProvider",
    "PartialProvider",
    "ProviderError",
    "SecretsManagerKey",
    "StaticKey",
    "Unestimated",
    "fallback_flag",
    "provider_for",
    "retrying_session",
]
