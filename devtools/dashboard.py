"""``make dashboard``: the web page and its HTTP API on 127.0.0.1, over a local CarbonMeter with two tenants.

Inside ``local_carbonmeter()`` (the demo account collected through the real functions on the embedded AWS) it
creates a Cognito user pool on the embedded AWS with a web client that allows USER_PASSWORD_AUTH, two tenants each
with a user (Cognito group = tenant) and connections of their own, then serves until Ctrl-C:

- the page's files (``web/``, uPlot from its npm package) and its ``config.json``;
- ``/cognito/``: the page's Cognito calls, passed to the embedded AWS (same origin, as the deployed page calls
  Cognito's own endpoint);
- ``/api/v1/*``: each request checked as API Gateway's JWT authorizer checks it (signature against the pool's
  JWKS, issuer, audience, expiry, ``token_use`` id; otherwise 401 and the function is not called), then the real
  ``functions/api/handler.py`` with an HTTP API (payload 2.0) event carrying the token's claims, run under the
  API function's deployed IAM policy.

It writes ``.build/dashboard.json`` (the address, the user pool and the demo users) so that scripts and tests can
sign in.
"""

from __future__ import annotations

import base64
import http.client
import json
import mimetypes
import os
import secrets
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from carbonmeter.aws import ClientFactory
from carbonmeter.connections import RegistrationRequest, register_connection
from carbonmeter.runtime import Runtime, use_runtime, utc_now
from carbonmeter.store import ConnectionStore
from devtools.aws.lambda_events import LambdaContext, http_api_event
from devtools.aws.pipeline import LocalPipeline, lambda_environment
from devtools.aws.server import HOST, EmbeddedAwsError
from devtools.demo import demo_arguments, last_hours, run_hours
from devtools.insights.aws_figures import run_aws_figures
from devtools.local import LocalCarbonMeter, ignore_cdk_runtime_exit_error, local_carbonmeter, wait_for_stop
from devtools.progress import say
from infra.constants import (
    API,
    API_DOCS_DIR,
    API_PREFIX,
    REPO_ROOT,
    VENDORED,
    WEB_CONFIG_FILE,
    WEB_SOURCE_DIR,
    api_docs_content_security_policy,
    web_config,
    web_content_security_policy,
)

DEFAULT_PORT = 8400
PORT_ENV = "PORT"
INFO_FILE = REPO_ROOT / ".build" / "dashboard.json"
# The page's Cognito calls, under the page's own origin (config.json names it; the deployed page calls Cognito).
COGNITO_PATH = "/cognito/"
POOL_NAME = "carbonmeter-users"
CLIENT_NAME = "carbonmeter-web"
# What the deployed distribution's response-headers policy sets beside its CSP (HSTS needs HTTPS, so not here).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
mimetypes.add_type("text/javascript", ".js")


@dataclass(frozen=True)
class DemoTenant:
    """A tenant of the demo: its Cognito group, its user, and the connections registered for it."""

    tenant: str
    username: str
    connection_ids: tuple[str, ...]
    # Which of the demo's regions its own connections read: None for the demo's connection itself.
    regions: slice | None = None


TENANTS = (
    DemoTenant("acme", "alice", ("demo",)),
    # A second connection to the demo account, with its last region only: collected through the pipeline too.
    DemoTenant("globex", "bob", ("globex-web",), regions=slice(-1, None)),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    tenant: str
    connection_ids: list[str]


@dataclass(frozen=True)
class UserPool:
    user_pool_id: str
    client_id: str
    region: str
    issuer: str


@dataclass(frozen=True)
class Dashboard:
    """What ``.build/dashboard.json`` holds."""

    url: str
    aws_endpoint: str
    region: str
    user_pool_id: str
    client_id: str
    users: list[DemoUser] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return asdict(self)


def main(argv: Sequence[str] | None = None) -> int:
    parser = demo_arguments("python -m devtools.dashboard", __doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(PORT_ENV) or DEFAULT_PORT),
        help=f"port on 127.0.0.1 for the page (default {DEFAULT_PORT}, or ${PORT_ENV}; 0 takes any free port)",
    )
    args = parser.parse_args(argv)
    try:
        with dashboard(args.regions, last_hours(args.hours), args.port) as running:
            write_info(running, INFO_FILE)
            _announce(running)
            ignore_cdk_runtime_exit_error()
            wait_for_stop()
    except (EmbeddedAwsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    say("stopped; what it held is gone")
    return 0


@contextmanager
def dashboard(regions: Sequence[str], hours: Sequence[datetime], port: int = DEFAULT_PORT) -> Iterator[Dashboard]:
    """The page and the API served on ``port`` over a local CarbonMeter of ``hours``, up inside the block."""
    server = _bind(port)
    try:
        with local_carbonmeter(regions, hours, port=0) as local:
            clients = ClientFactory(settings=local.settings)
            with lambda_environment(local.settings):
                pipeline = LocalPipeline(clients, local.settings, account_id=local.account.account_id)
                _register_tenants(pipeline, local, regions)
                pool = create_user_pool(clients, local.settings.region)
                users = [add_user(clients, pool, tenant) for tenant in TENANTS]
                say(f"user pool {pool.user_pool_id}: {', '.join(f'{u.username} ({u.tenant})' for u in users)}")
                server.app = PageApp(local.endpoint, pool, _TokenCheck.of(local.endpoint, pool), pipeline)
                bound_port = server.server_address[1]
                url = f"http://{HOST}:{bound_port}"
                running = Dashboard(url, local.endpoint, pool.region, pool.user_pool_id, pool.client_id, users)
                # The API answers as the deployed function would: its own role, the real clock.
                with use_runtime(Runtime(settings=local.settings, clients=_api_clients(pipeline), clock=utc_now)):
                    thread = threading.Thread(target=server.serve_forever, name="dashboard", daemon=True)
                    thread.start()
                    say(f"page and API on {url}")
                    try:
                        yield running
                    finally:
                        server.shutdown()
                        thread.join()
    finally:
        server.server_close()


def _bind(port: int) -> _Server:
    try:
        return _Server((HOST, port), _Handler)
    except OSError as exc:
        raise EmbeddedAwsError(f"port {port} on {HOST} is in use ({exc.strerror}); set {PORT_ENV} to another") from None


def _api_clients(pipeline: LocalPipeline) -> ClientFactory:
    """The API function's clients under its deployed policy, as the pipeline's functions run under theirs: a call
    the stack does not grant it fails with AccessDenied here too."""
    return pipeline.clients_of(API.name)


def _register_tenants(pipeline: LocalPipeline, local: LocalCarbonMeter, regions: Sequence[str]) -> None:
    """The demo's connection goes to the first tenant; the others get connections of their own, collected."""
    store = ConnectionStore(pipeline.clients, local.settings.connections_table)
    for tenant in TENANTS:
        if tenant.regions is None:
            for connection_id in tenant.connection_ids:
                store.put(store.get(connection_id).model_copy(update={"tenant": tenant.tenant}))
                say(f"connection {connection_id!r} now belongs to tenant {tenant.tenant!r}")
            continue
        own = tuple(regions[tenant.regions])
        for connection_id in tenant.connection_ids:
            request = RegistrationRequest(
                connection_id=connection_id,
                role_arn=local.account.role_arn,
                # Each connection has its own ExternalId; the demo's role trusts any (moto checks none).
                external_id=f"carbonmeter-{tenant.tenant}-{secrets.token_hex(8)}",
                regions=own,
                collect_from=local.hours[0],
                allow_shared_role=True,
                tenant=tenant.tenant,
            )
            register_connection(store, request, utc_now())
            say(f"registered {connection_id!r} for tenant {tenant.tenant!r} ({', '.join(own)}); collecting it")
        run_hours(pipeline, local.hours)
        for connection_id in tenant.connection_ids:
            run_aws_figures(pipeline, connection_id, own)


def create_user_pool(clients: ClientFactory, region: str) -> UserPool:
    """A user pool with the page's client, as the stack makes it: username and password through Cognito's API."""
    cognito = clients.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName=POOL_NAME)["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return UserPool(pool_id, client_id, region, f"https://cognito-idp.{region}.amazonaws.com/{pool_id}")


def add_user(clients: ClientFactory, pool: UserPool, tenant: DemoTenant) -> DemoUser:
    """The tenant's user, in the group named after the tenant, with a fresh password that needs no change."""
    cognito = clients.client("cognito-idp")
    password = f"Demo-{secrets.token_urlsafe(12)}1a"
    cognito.create_group(UserPoolId=pool.user_pool_id, GroupName=tenant.tenant)
    cognito.admin_create_user(UserPoolId=pool.user_pool_id, Username=tenant.username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=pool.user_pool_id, Username=tenant.username, Password=password, Permanent=True
    )
    cognito.admin_add_user_to_group(UserPoolId=pool.user_pool_id, Username=tenant.username, GroupName=tenant.tenant)
    return DemoUser(tenant.username, password, tenant.tenant, list(tenant.connection_ids))


def write_info(running: Dashboard, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(running.document(), indent=2) + "\n")


def _announce(running: Dashboard) -> None:
    print(f"CarbonMeter's web page on {running.url}. Sign in as:")
    for user in running.users:
        print(f"  {user.username} / {user.password}  (tenant {user.tenant}: {', '.join(user.connection_ids)})")
    print(f"Written to {INFO_FILE.relative_to(REPO_ROOT)}. Ctrl-C stops it (and forgets everything).", flush=True)


def local_request(
    endpoint: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request to a server on 127.0.0.1 (the embedded AWS, the dashboard): its status and body."""
    address = urlsplit(endpoint)
    connection = http.client.HTTPConnection(address.hostname or HOST, address.port, timeout=60)
    try:
        connection.request(method, path, body, headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


class _TokenCheck:
    """What API Gateway's JWT authorizer checks: the pool's signature, issuer, audience, expiry; an ID token."""

    def __init__(self, keys: KeySet, issuer: str, audience: str) -> None:
        self.keys = keys
        self.claims = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            token_use={"essential": True, "value": "id"},
        )

    @classmethod
    def of(cls, endpoint: str, pool: UserPool) -> _TokenCheck:
        # API Gateway reads the issuer's JWKS; the embedded AWS serves it at the same path as Cognito.
        status, body = local_request(endpoint, "GET", f"/{pool.user_pool_id}/.well-known/jwks.json")
        if status != HTTPStatus.OK:
            raise EmbeddedAwsError(f"the embedded AWS gave no JWKS for {pool.user_pool_id}: HTTP {status}")
        return cls(KeySet.import_key_set(json.loads(body)), pool.issuer, pool.client_id)

    def verified(self, authorization: str | None) -> dict[str, Any] | None:
        """The token's claims, or None when the header holds no valid ID token of the pool's web client."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            decoded = jwt.decode(token.strip(), self.keys, algorithms=["RS256"])
            self.claims.validate(decoded.claims)
        except (JoseError, ValueError):
            return None
        return dict(decoded.claims)


@dataclass
class PageApp:
    """What the server answers with: the page, its configuration, Cognito through the embedded AWS, and the API."""

    aws_endpoint: str
    pool: UserPool
    tokens: _TokenCheck
    pipeline: LocalPipeline
    web_root: Path = WEB_SOURCE_DIR
    # One request at a time through the function, as one Lambda container takes them.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def config(self) -> dict[str, str]:
        return web_config(
            region=self.pool.region,
            user_pool_id=self.pool.user_pool_id,
            client_id=self.pool.client_id,
            cognito_endpoint=COGNITO_PATH,
        )

    def static_file(self, path: str) -> Path | None:
        """The file a page path names, never one outside the page's folders."""
        relative = path.lstrip("/") or "index.html"
        for package in VENDORED:
            vendor = f"{package.page_dir}/"
            if relative.startswith(vendor):
                name = relative[len(vendor) :]
                return package.dist_dir / name if name in package.files else None
        candidate = (self.web_root / relative).resolve()
        root = self.web_root.resolve()
        if root not in candidate.parents or not candidate.is_file():
            return None
        return candidate

    def cognito(self, target: str, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        return local_request(self.aws_endpoint, "POST", "/", body, headers)

    def api(self, method: str, path: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
        claims = self.tokens.verified(headers.get("authorization"))
        if claims is None:
            # API Gateway's own answer: the function is not invoked.
            return {
                "statusCode": 401,
                "headers": {"content-type": "application/json"},
                "body": '{"message":"Unauthorized"}',
            }
        event = http_api_event(method, path, query=dict(parse_qsl(query)), claims=claims, headers=headers)
        from functions.api.handler import handler

        with self.lock:
            return handler(event, LambdaContext(function_name=f"carbonmeter-{API.name}", region=self.pool.region))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: PageApp


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: a page view makes a dozen requests; errors still reach stderr through send_error.
        return

    def do_GET(self) -> None:
        address = urlsplit(self.path)
        if address.path == API_PREFIX or address.path.startswith(f"{API_PREFIX}/"):
            self._api("GET", address.path, address.query)
        elif address.path == f"/{WEB_CONFIG_FILE}":
            self._send(HTTPStatus.OK, json.dumps(self.server.app.config()).encode(), "application/json")
        elif (found := self.server.app.static_file(address.path)) is not None:
            kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
            self._send(HTTPStatus.OK, found.read_bytes(), kind)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != COGNITO_PATH:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return
        status, answer = self.server.app.cognito(self.headers.get("X-Amz-Target", ""), body)
        self._send(status, answer, "application/x-amz-json-1.1")

    def _api(self, method: str, path: str, query: str) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.app.api(method, path, query, headers)
        body = answer.get("body") or ""
        data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
        extra = {name.lower(): str(value) for name, value in (answer.get("headers") or {}).items()}
        kind = extra.pop("content-type", "application/json")
        self._send(answer.get("statusCode", 200), data, kind, extra)

    def _send(self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        csp = {"Content-Security-Policy": self._content_security_policy()}
        for name, value in {**SECURITY_HEADERS, **csp, **(extra or {})}.items():
            if name.lower() not in {"content-length", "content-type"}:
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _content_security_policy(self) -> str:
        # The page meets the deployed policies here too, the API reference's under its own path as CloudFront
        # sends it (the page's Cognito calls come to this server, the same origin).
        if urlsplit(self.path).path.startswith(f"/{API_DOCS_DIR}/"):
            return api_docs_content_security_policy()
        return web_content_security_policy(self.server.app.aws_endpoint)


if __name__ == "__main__":
    sys.exit(main())
