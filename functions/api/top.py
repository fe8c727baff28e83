"""``/connections/{id}/top``: the figures of ``carbonmeter report --top N``, the largest resources over any range."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from carbonmeter import tenancy
from carbonmeter.runtime import runtime
from carbonmeter.top_resources import DEFAULT_COUNT, TopResources
from carbonmeter.tops import TOP_KEPT
from functions.api.auth import viewer
from functions.api.params import ConnectionIdPath, End, Start

router = Router()

Count = Annotated[
    int, Query(ge=1, le=TOP_KEPT, description=f"how many resources, at most {TOP_KEPT} (what each period keeps)")
]


@router.get("/connections/<connection_id>/top", summary="the resources that emitted the most over the range")
def top(connection_id: ConnectionIdPath, start: Start, end: End, count: Count = DEFAULT_COUNT) -> TopResources:
    rt = runtime()
    return tenancy.top(rt.clients, rt.settings, viewer(router), connection_id, (start, end), count, rt.clock())
