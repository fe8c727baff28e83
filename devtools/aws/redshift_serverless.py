"""Redshift Serverless on the embedded AWS: moto has no backend for it, so a minimal one answers here.

Only what CarbonMeter and its workbench call: CreateNamespace and CreateWorkgroup (seeding) and ListWorkgroups
(the slice, paginated as AWS does: ``maxResults`` 1-100, ``nextToken``). Requests are recognised by their SigV4
signing name, ``redshift-serverless``, both where the embedded server dispatches them to moto's backends and
where ``mock_aws`` intercepts them in-process; every other request goes to moto untouched. State is kept per
account (from the access key, as moto maps it) and region, for as long as the context is open.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber
from moto.iam.models import get_account_id_from
from moto.moto_api._internal import mock_random
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

SIGNING_NAME = "redshift-serverless"
TARGET_PREFIX = "RedshiftServerless."
DEFAULT_BASE_CAPACITY = 128  # RPUs, AWS's default
MAX_RESULTS = 100

Answer = tuple[int, dict[str, str], str]


class _ServerlessError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.status = 404 if code == "ResourceNotFoundException" else 400


class RedshiftServerless:
    """Namespaces and workgroups by (account, region), answering the JSON protocol's operations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.namespaces: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.workgroups: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def answer(self, authorization: str, target: str, body: bytes | str | None) -> Answer | None:
        """The HTTP answer to a Redshift Serverless request; None for a request of another service."""
        scope = _credential_scope(authorization)
        if scope is None or scope[2] != SIGNING_NAME:
            return None
        access_key, region, _ = scope
        operation = target.removeprefix(TARGET_PREFIX)
        handler: Callable[[tuple[str, str], dict[str, Any]], dict[str, Any]] | None = getattr(
            self, f"_{operation}", None
        )
        try:
            if handler is None:
                raise _ServerlessError("UnknownOperationException", f"{operation} is not emulated")
            params = json.loads(body or "{}")
            with self._lock:
                result = handler((get_account_id_from(access_key), region), params)
        except _ServerlessError as error:
            return error.status, _JSON, json.dumps({"__type": error.code, "message": error.message})
        return 200, _JSON, json.dumps(result)

    def _CreateNamespace(self, where: tuple[str, str], params: dict[str, Any]) -> dict[str, Any]:
        return {"namespace": _create(self.namespaces, where, "namespace", params["namespaceName"], {})}

    def _CreateWorkgroup(self, where: tuple[str, str], params: dict[str, Any]) -> dict[str, Any]:
        namespace = params["namespaceName"]
        if namespace not in self.namespaces.get(where, {}):
            raise _ServerlessError("ResourceNotFoundException", f"namespace {namespace} not found")
        extra = {"namespaceName": namespace, "baseCapacity": int(params.get("baseCapacity", DEFAULT_BASE_CAPACITY))}
        return {"workgroup": _create(self.workgroups, where, "workgroup", params["workgroupName"], extra)}

    def _ListWorkgroups(self, where: tuple[str, str], params: dict[str, Any]) -> dict[str, Any]:
        size = int(params.get("maxResults", MAX_RESULTS))
        if not 1 <= size <= MAX_RESULTS:
            raise _ServerlessError("ValidationException", f"maxResults must be between 1 and {MAX_RESULTS}")
        names = sorted(self.workgroups.get(where, {}))
        start = int(params.get("nextToken") or 0)
        page = names[start : start + size]
        result: dict[str, Any] = {"workgroups": [self.workgroups[where][name] for name in page]}
        if start + size < len(names):
            result["nextToken"] = str(start + size)
        return result


_JSON = {"Content-Type": "application/x-amz-json-1.1"}


def _credential_scope(authorization: str) -> tuple[str, str, str] | None:
    """(access key, region, service) of a SigV4 ``Authorization`` header; None for anything else."""
    try:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0]
        access_key, _date, region, service, _terminator = credential.split("/")
    except (IndexError, ValueError):
        return None
    return access_key, region, service


def _create(
    store: dict[tuple[str, str], dict[str, dict[str, Any]]],
    where: tuple[str, str],
    kind: str,
    name: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """A new namespace or workgroup ``name``, as AWS describes it; ConflictException if it exists."""
    items = store.setdefault(where, {})
    if name in items:
        raise _ServerlessError("ConflictException", f"{kind} {name} already exists")
    account, region = where
    items[name] = {
        f"{kind}Name": name,
        # moto's seeded generator, so that a seeded run gets the same ids
        f"{kind}Id": str(mock_random.uuid4()),
        f"{kind}Arn": f"arn:aws:redshift-serverless:{region}:{account}:{kind}/{name}",
        "status": "AVAILABLE",
        "creationDate": datetime.now(UTC).timestamp(),
        **extra,
    }
    return items[name]


# The emulators of the open contexts, so that the workbench can set what AWS would have stamped (``lifetimes``).
OPEN: list[RedshiftServerless] = []


def set_workgroups_created(region: str, when: datetime, account_id: str) -> None:
    """Every workgroup of the account's region, in every open emulator, created at ``when``."""
    for emulator in OPEN:
        with emulator._lock:
            for workgroup in emulator.workgroups.get((account_id, region), {}).values():
                workgroup["creationDate"] = when.timestamp()


@contextmanager
def redshift_serverless() -> Iterator[RedshiftServerless]:
    """Answer Redshift Serverless requests, in the embedded server and under ``mock_aws``, while open."""
    emulator = RedshiftServerless()
    OPEN.append(emulator)
    dispatch, intercept = DomainDispatcherApplication.__call__, BotocoreStubber.process_request

    def serve(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            return dispatch(self, environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        answer = emulator.answer(environ.get("HTTP_AUTHORIZATION", ""), target, body)
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return dispatch(self, environ, start_response)
        status, headers, body = answer
        start_response(f"{status} {'OK' if status == 200 else 'Error'}", list(headers.items()))
        return [body.encode()]

    def stub(self: BotocoreStubber, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        authorization = request.headers.get("Authorization", b"")
        authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
        answer = emulator.answer(authorization, target, request.body) if target.startswith(TARGET_PREFIX) else None
        return intercept(self, request) if answer is None else answer

    DomainDispatcherApplication.__call__ = serve  # type: ignore[method-assign]
    BotocoreStubber.process_request = stub  # type: ignore[method-assign]
    try:
        yield emulator
    finally:
        DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]
        BotocoreStubber.process_request = intercept  # type: ignore[method-assign]
        OPEN.remove(emulator)
