"""AWS's own service names (Cost Explorer's and the Sustainability API's) as CarbonMeter's services.

The table is data (``data/aws-services.csv``, sources in ``data/SOURCES.md``): a name it does not list is a service
CarbonMeter does not meter.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from carbonmeter.models import Service


@dataclass(frozen=True)
class AwsService:
    """One AWS service name as CarbonMeter meters it: its service, and what of AWS's figures it leaves out."""

    aws_service: str
    service: Service
    note: str


@cache
def _table() -> dict[str, AwsService]:
    text = resources.files("carbonmeter.insights").joinpath("data", "aws-services.csv").read_text(encoding="utf-8")
    names: dict[str, AwsService] = {}
    for row in csv.DictReader(text.splitlines()):
        entry = AwsService(row["aws_service"], Service(row["service"]), row["note"])
        for name in (row["aws_service"], *filter(None, row["aliases"].split(";"))):
            names[name.casefold()] = entry
    return names


def metered_as(aws_service: str) -> AwsService | None:
    """CarbonMeter's service for an AWS service name, or None when CarbonMeter does not meter it."""
    return _table().get(aws_service.strip().casefold())
