"""``/connections``: the connections the caller's tenants own, with their collection's health."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from carbonmeter import tenancy
from carbonmeter.runtime import runtime
from carbonmeter.tenancy import ConnectionList, ConnectionStatus
from functions.api.auth import viewer
from functions.api.params import ConnectionIdPath

router = Router()


@router.get("/connections", summary="the connections visible to the caller, with their status")
def list_connections() -> ConnectionList:
    rt = runtime()
    return tenancy.visible_connections(rt.clients, rt.settings, viewer(router), rt.clock())


@router.get("/connections/<connection_id>", summary="one connection, with its status")
def get_connection(connection_id: ConnectionIdPath) -> ConnectionStatus:
    rt = runtime()
    return tenancy.connection_status(rt.clients, rt.settings, viewer(router), connection_id, rt.clock())
