"""The path and query parameters the routes share, parsed and validated by Powertools (pydantic): a bad one
answers 400 naming it (``errors.py``)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from carbonmeter.models import UtcHour

ConnectionIdPath = Annotated[str, Path(description="the connection's id")]
Start = Annotated[UtcHour, Query(description="first hour, UTC, e.g. 2026-11-01T00:00:00Z")]
End = Annotated[UtcHour, Query(description="end of the range (exclusive), UTC, e.g. 2026-12-01T00:00:00Z")]
