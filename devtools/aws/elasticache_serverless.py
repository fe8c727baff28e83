"""ElastiCache Serverless on the embedded AWS: moto's ElastiCache has no serverless caches, so they are added here.

Only what CarbonMeter and its workbench call: CreateServerlessCache (seeding), DescribeServerlessCaches (the
slice, paginated as AWS does: ``MaxResults`` up to 100, ``NextToken``) and DeleteServerlessCache. They become
actions of moto's own ElastiCache responder while the context is open, so they answer both in the embedded
server and under ``mock_aws``, with moto's serialisation; the caches live on moto's backend of the account and
region, and go with it when moto resets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.elasticache.exceptions import ElastiCacheException
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse

MAX_RESULTS = 100
_STATE = "_carbonmeter_serverless_caches"


def _caches(backend: ElastiCacheBackend) -> dict[str, dict[str, Any]]:
    caches: dict[str, dict[str, Any]] = backend.__dict__.setdefault(_STATE, {})
    return caches


def set_caches_created(backend: ElastiCacheBackend, when: datetime) -> None:
    """Every serverless cache of the backend created at ``when`` (the workbench's history: ``lifetimes``)."""
    for cache in _caches(backend).values():
        cache["CreateTime"] = when


def _create(self: ElastiCacheResponse) -> ActionResult:
    name = self._get_param("ServerlessCacheName")
    caches = _caches(self.elasticache_backend)
    if name in caches:
        raise ElastiCacheException("ServerlessCacheAlreadyExistsFault", f"Serverless cache {name} already exists")
    engine = self._get_param("Engine")
    caches[name] = {
        "ServerlessCacheName": name,
        "Engine": engine,
        "MajorEngineVersion": self._get_param("MajorEngineVersion") or ("1" if engine == "memcached" else "7"),
        "Status": "available",
        "CreateTime": datetime.now(UTC),
        "ARN": f"arn:aws:elasticache:{self.region}:{self.current_account}:serverlesscache:{name}",
    }
    return ActionResult({"ServerlessCache": caches[name]})


def _describe(self: ElastiCacheResponse) -> ActionResult:
    caches = _caches(self.elasticache_backend)
    name = self._get_param("ServerlessCacheName")
    if name is not None and name not in caches:
        raise ElastiCacheException("ServerlessCacheNotFoundFault", f"Serverless cache {name} not found")
    size = int(self._get_param("MaxResults") or MAX_RESULTS)
    if not 1 <= size <= MAX_RESULTS:
        raise ElastiCacheException("InvalidParameterValue", f"MaxResults must be between 1 and {MAX_RESULTS}")
    names = [name] if name is not None else sorted(caches)
    start = int(self._get_param("NextToken") or 0)
    result: dict[str, Any] = {"ServerlessCaches": [caches[n] for n in names[start : start + size]]}
    if start + size < len(names):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def _delete(self: ElastiCacheResponse) -> ActionResult:
    name = self._get_param("ServerlessCacheName")
    cache = _caches(self.elasticache_backend).pop(name, None)
    if cache is None:
        raise ElastiCacheException("ServerlessCacheNotFoundFault", f"Serverless cache {name} not found")
    return ActionResult({"ServerlessCache": {**cache, "Status": "deleting"}})


_ACTIONS = {
    "create_serverless_cache": _create,
    "describe_serverless_caches": _describe,
    "delete_serverless_cache": _delete,
}


@contextmanager
def elasticache_serverless() -> Iterator[None]:
    """Answer the serverless-cache actions through moto's ElastiCache while the block runs."""
    missing = [action for action in _ACTIONS if not hasattr(ElastiCacheResponse, action)]
    for action in missing:
        setattr(ElastiCacheResponse, action, _ACTIONS[action])
    try:
        yield
    finally:
        for action in missing:
            delattr(ElastiCacheResponse, action)
