"""The library's refusals as HTTP answers, each ``{"statusCode": N, "message": "..."}`` (docs/api.md)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from carbonmeter.insights.costs import CostWindowError
from carbonmeter.insights.reconciliation import MonthError
from carbonmeter.periods import FootprintWindowError
from carbonmeter.store import UnknownConnectionError
from carbonmeter.tenancy import ExportTooLargeError, ReadLimitError, fits, too_large_message
from carbonmeter.top_resources import TopCountError
from carbonmeter.windows import WindowError
from functions.api.auth import signed_in_first

# The library's refusals of a request, by the status that answers them; their messages are for the caller (they
# name the parameter and never anything of another tenant: an invisible connection is an unknown one).
REFUSALS: dict[int, tuple[type[Exception], ...]] = {
    400: (WindowError, FootprintWindowError, CostWindowError, ReadLimitError, TopCountError),
    404: (UnknownConnectionError, MonthError),
    413: (ExportTooLargeError,),
}


def answer(status: int, message: str) -> Response[object]:
    return Response(
        status_code=status, content_type="application/json", body={"statusCode": status, "message": message}
    )


def register(app: APIGatewayHttpResolver) -> None:
    for status, kinds in REFUSALS.items():
        app.exception_handler(list(kinds))(lambda exc, status=status: answer(status, str(exc)))

    @app.exception_handler(RequestValidationError)
    def bad_parameters(exc: RequestValidationError) -> Response[object]:
        return signed_in_first(lambda: answer(400, parameter_problems(exc)), app)

    @app.not_found
    def no_route(exc: NotFoundError) -> Response[object]:
        return signed_in_first(lambda: answer(404, "no such route"), app)


def within_bounds(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer``, or 413 in its place when its body would not fit in Lambda's answer (a footprint by resource of a
    large fleet): refused whole, never cut short."""
    if answer.get("isBase64Encoded") or fits(answer.get("body") or ""):
        return answer
    status = 413
    body = json.dumps({"statusCode": status, "message": too_large_message()})
    return {**answer, "statusCode": status, "body": body, "headers": {"Content-Type": "application/json"}}


def parameter_problems(exc: RequestValidationError) -> str:
    """Each bad parameter and its problem, ``name: problem``, without the value sent (it may be anything)."""
    problems = []
    for error in exc.errors():
        location = error.get("loc") or ()
        name = str(location[-1]) if location else "request"
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "; ".join(dict.fromkeys(problems))
