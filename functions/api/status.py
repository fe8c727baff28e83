"""``/connections/{id}/status``: each hour of the range and what its collection got (``carbonmeter status``)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from carbonmeter import tenancy
from carbonmeter.runtime import runtime
from carbonmeter.tenancy import StatusWindow
from functions.api.auth import viewer
from functions.api.params import ConnectionIdPath, End, Start

router = Router()


@router.get("/connections/<connection_id>/status", summary="the status of each hour of the range")
def status(connection_id: ConnectionIdPath, start: Start, end: End) -> StatusWindow:
    rt = runtime()
    return tenancy.hour_states(rt.clients, rt.settings, viewer(router), connection_id, (start, end), rt.clock())
