"""``/connections/{id}/footprint``: the figures of ``carbonmeter report --granularity G --group-by B``; and
``/connections/{id}/breakdown``: its groups over the whole range (``carbonmeter report --breakdown B``)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from carbonmeter import tenancy
from carbonmeter.periods import Breakdown, Footprint, Granularity, GroupBy
from carbonmeter.runtime import runtime
from functions.api.auth import viewer
from functions.api.params import ConnectionIdPath, End, Start

router = Router()

GranularityQuery = Annotated[
    Granularity, Query(description="one point per hour, day or month (UTC); day and month ranges start on one")
]
GroupByQuery = Annotated[GroupBy, Query(description="the series' groups; resource reads one request per hour")]


@router.get("/connections/<connection_id>/footprint", summary="the footprint over the range, by period and group")
def footprint(
    connection_id: ConnectionIdPath,
    start: Start,
    end: End,
    granularity: GranularityQuery = Granularity.DAY,
    group_by: GroupByQuery = GroupBy.SERVICE,
) -> Footprint:
    rt = runtime()
    return tenancy.footprint(
        rt.clients, rt.settings, viewer(router), connection_id, (start, end), granularity, group_by, rt.clock()
    )


BreakdownGroupBy = Annotated[
    GroupBy, Query(description="the groups: service, region or service_region (resources are not in the roll-ups)")
]


@router.get("/connections/<connection_id>/breakdown", summary="each group's figures over the whole range")
def breakdown(
    connection_id: ConnectionIdPath,
    start: Start,
    end: End,
    group_by: BreakdownGroupBy = GroupBy.SERVICE,
) -> Breakdown:
    rt = runtime()
    return tenancy.breakdown(rt.clients, rt.settings, viewer(router), connection_id, (start, end), group_by, rt.clock())
