"""The AWS Sustainability API on the embedded AWS: a small, documented stand-in, since moto has none.

It answers ``GetEstimatedCarbonEmissions`` (POST ``/v1/estimated-carbon-emissions``, signing name
``sustainability``) with the lines of ``data/sustainability-stand-in.json`` for every month asked from January
2022 on: figures made up for the demo account's month and labelled so in their model version
(``v0.0.0-carbonmeter-stand-in``), never AWS's. Paged by ``MaxResults``/``NextToken`` as the API is; a month
before 2022 answers no results. It is entered in ``embedded_aws()`` and serves every account alike; every other
request goes to moto untouched.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from devtools.aws.redshift_serverless import _credential_scope

SIGNING_NAME = "sustainability"
PATH = "/v1/estimated-carbon-emissions"
STAND_IN = Path(__file__).parent / "data" / "sustainability-stand-in.json"
_TYPES = {
    "lbm": "TOTAL_LBM_CARBON_EMISSIONS",
    "mbm": "TOTAL_MBM_CARBON_EMISSIONS",
    "scope1": "TOTAL_SCOPE_1_CARBON_EMISSIONS",
    "scope2_lbm": "TOTAL_SCOPE_2_LBM_CARBON_EMISSIONS",
    "scope2_mbm": "TOTAL_SCOPE_2_MBM_CARBON_EMISSIONS",
    "scope3_lbm": "TOTAL_SCOPE_3_LBM_CARBON_EMISSIONS",
    "scope3_mbm": "TOTAL_SCOPE_3_MBM_CARBON_EMISSIONS",
}
DEFAULT_TYPES = ("TOTAL_LBM_CARBON_EMISSIONS", "TOTAL_MBM_CARBON_EMISSIONS")
MAX_RESULTS = 5000


@cache
def stand_in() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(STAND_IN.read_text(encoding="utf-8"))
    return document


def answer(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The API's answer to one request's body: (HTTP status, JSON document)."""
    size = int(params.get("MaxResults", 1000))
    if not 1 <= size <= MAX_RESULTS:
        return 400, {"message": f"MaxResults must be between 1 and {MAX_RESULTS}"}
    start, end = (_month_of(params["TimePeriod"][bound]) for bound in ("Start", "End"))
    wanted = params.get("EmissionsTypes") or DEFAULT_TYPES
    results = [_result(month, line, wanted) for month in _months(start, end) for line in stand_in()["lines"]]
    first = int(params.get("NextToken") or 0)
    document: dict[str, Any] = {"Results": results[first : first + size]}
    if first + size < len(results):
        document["NextToken"] = str(first + size)
    return 200, document


def _months(start: str, end: str) -> list[str]:
    """The months from ``start`` up to ``end`` (exclusive; the start's alone when they are equal), from 2022 on."""
    months, month = [], max(start, stand_in()["first_month"])
    while month < end or (month == start == end):
        months.append(month)
        month = _following(month)
        if start == end:
            break
    return months


def _following(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _month_of(value: Any) -> str:
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else datetime.fromisoformat(value)
    return moment.strftime("%Y-%m")


def _result(month: str, line: dict[str, Any], wanted: Any) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": f"{month}-01T00:00:00Z", "End": f"{_following(month)}-01T00:00:00Z"},
        "DimensionsValues": {"SERVICE": line["service"], "REGION": line["region"]},
        "ModelVersion": stand_in()["model_version"],
        "EmissionsValues": {
            kind: {"Value": line[field], "Unit": "MTCO2e"} for field, kind in _TYPES.items() if kind in wanted
        },
    }


@contextmanager
def sustainability_stand_in() -> Iterator[None]:
    """Answer the Sustainability API's GetEstimatedCarbonEmissions in the embedded server while open."""
    dispatch = DomainDispatcherApplication.__call__

    def serve(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
        scope = _credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
        if environ.get("PATH_INFO") != PATH or scope is None or scope[2] != SIGNING_NAME:
            return dispatch(self, environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            status, document = answer(json.loads(body or b"{}"))
        except (KeyError, ValueError) as exc:
            status, document = 400, {"message": f"invalid request: {exc}"}
        headers = [("Content-Type", "application/json")]
        if status != 200:
            headers.append(("x-amzn-errortype", "ValidationException"))
        start_response(f"{status} {'OK' if status == 200 else 'Bad Request'}", headers)
        environ["wsgi.input"] = io.BytesIO(b"")
        return [json.dumps(document).encode()]

    DomainDispatcherApplication.__call__ = serve  # type: ignore[method-assign]
    try:
        yield
    finally:
        DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]
