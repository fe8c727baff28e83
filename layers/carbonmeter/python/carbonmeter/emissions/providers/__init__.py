"""Where the calculator gets its figures: the builtin methodology, a Boavizta API server, an external API or OxygenIT.

``provider_for(settings, clients).estimate(usages)`` is the whole interface; see ``docs/providers.md``.
"""

from carbonmeter.emissions.providers.api_key import ApiKeySource, SecretsManagerKey, StaticKey
from carbonmeter.emissions.providers.base import (
    FALLBACK_FLAG_PREFIX,
    EmissionsProvider,
    PartialProvider,
    ProviderError,
    Unestimated,
    fallback_flag,
)
from carbonmeter.emissions.providers.boavizta import BoaviztaProvider
from carbonmeter.emissions.providers.builtin import BuiltinProvider
from carbonmeter.emissions.providers.factory import provider_for
from carbonmeter.emissions.providers.fallback import FallbackProvider
from carbonmeter.emissions.providers.http_api import HttpProvider
from carbonmeter.emissions.providers.oxygenit import OxygenItProvider
from carbonmeter.emissions.providers.transport import retrying_session

PROVIDER_NAMES = ("builtin", "boavizta", "http", "oxygenit")

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
