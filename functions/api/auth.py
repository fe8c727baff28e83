"""Who asks: the signed-in caller's tenants, from the claims API Gateway's JWT authorizer passed on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from carbonmeter.http_api import GROUPS_CLAIM
from carbonmeter.tenancy import Viewer

NOT_SIGNED_IN = "sign in: this API needs a Cognito ID token (Authorization: Bearer <token>)"


def viewer(app: APIGatewayHttpResolver | Router) -> Viewer:
    """The caller's viewer; ``UnauthorizedError`` (401) when the request carries no authorizer's claims.

    API Gateway's authorizer refuses a request without a valid token before it reaches the function; this is the
    function's own check, so that no route (Swagger's included) answers a request that bypassed it.
    """
    claims = _claims(app.current_event.raw_event)
    if not claims or not claims.get("sub"):
        raise UnauthorizedError(NOT_SIGNED_IN)
    return Viewer.from_groups(claims.get(GROUPS_CLAIM))


def _claims(event: dict[str, Any]) -> dict[str, Any]:
    # requestContext.authorizer.jwt.claims of an HTTP API (payload 2.0) event; any level may be absent or null.
    context = event.get("requestContext") or {}
    jwt = (context.get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims") or {}
    return claims if isinstance(claims, dict) else {}


def signed_in(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[object]:
    """Middleware of every route: nothing is answered to a caller without the authorizer's claims."""
    viewer(app)
    return next_middleware(app)


def signed_in_first(answer: Callable[[], Response[object]], app: APIGatewayHttpResolver) -> Response[object]:
    """``answer``, unless the caller is not signed in: then 401 before anything about their request."""
    try:
        viewer(app)
    except UnauthorizedError as exc:
        return Response(status_code=401, content_type="application/json", body={"statusCode": 401, "message": exc.msg})
    return answer()
