"""HTTP API: the web page's figures, for the tenants of the signed-in caller (docs/api.md).

One router per resource (this folder); each route parses its parameters (Powertools, pydantic), calls one
tenant-scoped use case of the library (``carbonmeter.tenancy``) and returns the library's model.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, SecurityScheme
from aws_lambda_powertools.logging.correlation_paths import API_GATEWAY_HTTP
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbonmeter.gc_pause import gc_paused
from carbonmeter.http_api import API_PREFIX, OPENAPI_PATH
from carbonmeter.metrics import MetricName
from functions.api import connections, errors, export, footprint, insights, status, top
from functions.api.auth import signed_in

TITLE = "CarbonMeter"
VERSION = "1"
DESCRIPTION = "A connection's stored footprint, health and insights, for the tenants of the signed-in caller."
# Every route takes the Cognito ID token as a bearer token; the page's API reference sends it with each try.
SECURITY_SCHEMES: dict[str, SecurityScheme] = {"cognito": HTTPBearer(bearerFormat="JWT", description="an ID token")}
SECURITY: list[dict[str, list[str]]] = [{"cognito": []}]

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# The library logs through the standard logging module; give its lines the same JSON and keys.
copy_config_to_registered_loggers(source_logger=logger, include={"carbonmeter"})

app = APIGatewayHttpResolver(enable_validation=True)
app.use(middlewares=[signed_in])
for resource in (connections, footprint, top, status, insights, export):
    app.include_router(resource.router, prefix=API_PREFIX)
errors.register(app)


# The document only, to signed-in callers: Powertools' Swagger UI page is not served, since its inline script
# breaks the page's CSP and a browser tab opening it could not send the token. The page's API reference
# (web/api-docs/) draws this document with the pinned Swagger UI instead, as the signed-in user.
@app.get(OPENAPI_PATH, include_in_schema=False)
def openapi_document() -> Response[str]:
    document = app.get_openapi_json_schema(
        title=TITLE, version=VERSION, description=DESCRIPTION, security_schemes=SECURITY_SCHEMES, security=SECURITY
    )
    return Response(status_code=200, content_type="application/json", body=document)


@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with gc_paused:
        answer = errors.within_bounds(app.resolve(event, context))
    # Lambda answers at most 6 MB: how close each answer comes to it.
    metrics.add_metric(name=MetricName.API_RESPONSE_BYTES, unit=MetricUnit.Bytes, value=len(answer.get("body") or ""))
    return answer
