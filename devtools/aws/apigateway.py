"""API Gateway's API listings answered a page at a time, as API Gateway answers them.

Moto answers GetRestApis and apigatewayv2's GetApis with every API at once, whatever ``limit`` or ``maxResults``
asks, and never refuses a page size. API Gateway pages GetRestApis at 25 APIs unless asked (at most 500; more is a
BadRequestException) with a ``position`` token, and GetApis at ``maxResults`` with a ``nextToken``. Without this a
collector reading only the first page, or asking for a page AWS refuses, would pass every local run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from moto.apigateway.exceptions import BadRequestException
from moto.apigateway.responses import APIGatewayResponse
from moto.apigatewayv2.responses import ApiGatewayV2Response

REST_APIS_DEFAULT_LIMIT = 25
REST_APIS_MAX_LIMIT = 500


@contextmanager
def api_listings_paged() -> Iterator[None]:
    """Page GetRestApis (``limit``/``position``) and GetApis (``maxResults``/``nextToken``) while the block runs."""
    original_rest, original_v2 = APIGatewayResponse.get_rest_apis, ApiGatewayV2Response.get_apis
    APIGatewayResponse.get_rest_apis = _rest_apis_page  # type: ignore[method-assign,assignment]
    ApiGatewayV2Response.get_apis = _v2_apis_page(original_v2)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        APIGatewayResponse.get_rest_apis = original_rest  # type: ignore[method-assign]
        ApiGatewayV2Response.get_apis = original_v2  # type: ignore[method-assign]


def _rest_apis_page(response: APIGatewayResponse) -> str:
    limit = _query(response, "limit")
    size = REST_APIS_DEFAULT_LIMIT if limit is None else _page_size(limit, "limit")
    if size > REST_APIS_MAX_LIMIT:
        raise BadRequestException(
            f"1 validation error detected: Value '{size}' at 'limit' failed to satisfy constraint: "
            f"Member must have value less than or equal to {REST_APIS_MAX_LIMIT}"
        )
    page, following = _page(response.backend.list_apis(), _query(response, "position"), size)
    body: dict[str, Any] = {"item": [api.to_dict() for api in page]}
    if following is not None:
        body["position"] = following
    return json.dumps(body)


def _v2_apis_page(original: Callable[[ApiGatewayV2Response], Any]) -> Callable[[ApiGatewayV2Response], Any]:
    def get_apis(response: ApiGatewayV2Response) -> Any:
        max_results, token = _query(response, "maxResults"), _query(response, "nextToken")
        if max_results is None and token is None:
            # No documented default page size: the whole list, as moto gives it.
            return original(response)
        apis = response.apigatewayv2_backend.get_apis()
        size = len(apis) if max_results is None else _page_size(max_results, "maxResults")
        page, following = _page(apis, token, size)
        body: dict[str, Any] = {"items": [api.to_json() for api in page]}
        if following is not None:
            body["nextToken"] = following
        return 200, {}, json.dumps(body)

    return get_apis


def _query(response: Any, name: str) -> str | None:
    values = response.querystring.get(name)
    return str(values[0]) if values else None


def _page_size(value: str, name: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise BadRequestException(f"Invalid {name}: {value}")
    return int(value)


def _page(items: Sequence[Any], token: str | None, size: int) -> tuple[Sequence[Any], str | None]:
    """The page starting at ``token`` (an offset; the first page without one) and the next page's token, if any."""
    if token is not None and not token.isdigit():
        raise BadRequestException(f"Invalid pagination token: {token}")
    start = int(token) if token is not None else 0
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
