"""``/connections/{id}/export``: the file of ``carbonmeter export``, as an attachment (CSV or JSON Lines).

Lambda answers at most 6 MB: an export that would not fit is refused whole (413), never cut short; the CLI streams
any size.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from carbonmeter import tenancy
from carbonmeter.insights.export import ExportFormat
from carbonmeter.models import hour_key
from carbonmeter.periods import Granularity, GroupBy
from carbonmeter.runtime import runtime
from functions.api.auth import viewer
from functions.api.footprint import GranularityQuery, GroupByQuery
from functions.api.params import ConnectionIdPath, End, Start

router = Router()

CONTENT_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.JSON: "application/x-ndjson"}
EXTENSIONS = {ExportFormat.CSV: "csv", ExportFormat.JSON: "jsonl"}
FormatQuery = Annotated[
    ExportFormat, Query(alias="format", description="csv (a header, then a line per row) or json (JSON Lines)")
]


@router.get(
    "/connections/<connection_id>/export",
    summary="the footprint's rows as a file, each figure with its low and high bounds",
    responses={
        200: {
            "description": "the file",
            "content": {kind: {"schema": {"type": "string"}} for kind in CONTENT_TYPES.values()},
        },
        413: {"description": "larger than one answer carries: a shorter range, or carbonmeter export"},
    },
)
def export(
    connection_id: ConnectionIdPath,
    start: Start,
    end: End,
    export_format: FormatQuery = ExportFormat.CSV,
    granularity: GranularityQuery = Granularity.DAY,
    group_by: GroupByQuery = GroupBy.SERVICE,
) -> Response[str]:
    rt = runtime()
    body = tenancy.export_file(
        rt.clients,
        rt.settings,
        viewer(router),
        connection_id,
        (start, end),
        granularity,
        group_by,
        export_format,
        rt.clock(),
    )
    name = f"{connection_id}_{hour_key(start)}_{hour_key(end)}_{granularity}_{group_by}".replace(":", "")
    return Response(
        status_code=200,
        content_type=CONTENT_TYPES[export_format],
        body=body,
        headers={"Content-Disposition": f'attachment; filename="{name}.{EXTENSIONS[export_format]}"'},
    )
