"""The insights of a connection: cost beside carbon, anomalies, recommendations, the month beside AWS's figures
(``carbonmeter costs``, ``anomalies``, ``recommendations``, ``reconcile``; docs/insights.md)."""

from __future__ import annotations

import re
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AfterValidator

from carbonmeter import tenancy
from carbonmeter.insights.costs import CostInsight
from carbonmeter.insights.recommendations import DEFAULT_DAYS, MAX_DAYS, Recommendations
from carbonmeter.insights.reconciliation import Reconciliation
from carbonmeter.runtime import runtime
from carbonmeter.tenancy import AnomalyList
from functions.api.auth import viewer
from functions.api.params import ConnectionIdPath, End, Start

router = Router()


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise ValueError("not a month (YYYY-MM, e.g. 2026-10)")
    return value


Month = Annotated[str, AfterValidator(_month), Query(description="the month, YYYY-MM")]
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description=f"days of stored figures read, at most {MAX_DAYS}")]


@router.get("/connections/<connection_id>/cost", summary="cost beside carbon over whole UTC days")
def cost(connection_id: ConnectionIdPath, start: Start, end: End) -> CostInsight:
    rt = runtime()
    return tenancy.cost(rt.clients, rt.settings, viewer(router), connection_id, (start, end))


@router.get("/connections/<connection_id>/anomalies", summary="the anomalies overlapping the range")
def anomalies(connection_id: ConnectionIdPath, start: Start, end: End) -> AnomalyList:
    rt = runtime()
    return tenancy.anomalies(rt.clients, rt.settings, viewer(router), connection_id, (start, end))


@router.get("/connections/<connection_id>/recommendations", summary="the changes that save the most, ranked")
def recommendations(connection_id: ConnectionIdPath, days: Days = DEFAULT_DAYS) -> Recommendations:
    rt = runtime()
    return tenancy.connection_recommendations(rt.clients, rt.settings, viewer(router), connection_id, days, rt.clock())


@router.get("/connections/<connection_id>/reconciliation", summary="the month beside AWS's own figures")
def reconciliation(connection_id: ConnectionIdPath, month: Month) -> Reconciliation:
    rt = runtime()
    return tenancy.reconcile(rt.clients, rt.settings, viewer(router), connection_id, month)
