"""docs/methodology.md's worked-example figures for AWS's GiB-sized storage come out of the code as printed.

The volume and the database are turned into usage records by their service slices, as the collector does, so the
GiB-to-GB conversion is part of what is checked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carbonmeter.emissions import estimate
from carbonmeter.models import Service, UsageRecord
from carbonmeter.services import ebs, rds
from carbonmeter.services.base import HourContext, Resource

METHODOLOGY = Path(__file__).resolve().parents[2] / "docs" / "methodology.md"
CONTEXT = HourContext(connection_id="acme", account_id="123456789012", hour=datetime(2024, 3, 1, 12, tzinfo=UTC))
PUE = 1.135


def _documented_kwh(usage_label: str) -> str:
    """The energy column of the worked example's "further figures" row for ``usage_label``, as printed."""
    section = METHODOLOGY.read_text(encoding="utf-8").split("## Worked example", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"^\| {re.escape(usage_label)} \| ([0-9.]+) ", section, re.MULTILINE)
    assert match, f"no row {usage_label!r} in the worked example"
    return match.group(1)


def _as_printed(value: float, printed: str) -> str:
    decimals = len(printed.split(".")[1])
    return f"{value:.{decimals}f}"


def _volume(size_gib: int) -> UsageRecord:
    resource = Resource(Service.EBS, "us-east-1", "vol-1", "gp3", {"size_gib": size_gib})
    (record,) = ebs.SLICE.usage(resource, {}, CONTEXT)
    return record


def test_a_100_gib_gp3_volume_is_charged_its_107_gb() -> None:
    # Given the gp3 volume of the worked example, sized as DescribeVolumes reports it (GiB)
    record = _volume(100)

    # When it is estimated
    got = estimate(record).storage_kwh

    # Then it is 107.374 GB on SSD with two copies, and the document prints that figure
    assert got == pytest.approx(0.1073741824 * 1.2 * 2 / 1000 * PUE, rel=1e-12)
    assert _as_printed(got, printed := _documented_kwh("EBS gp3 volume, 100 GiB")) == printed
    # CCF's code would charge the same volume as 100 decimal GB (correction 6): 7.4 % less
    assert got / (0.1 * 1.2 * 2 / 1000 * PUE) == pytest.approx(1.073741824, rel=1e-12)


def test_a_multi_az_database_with_100_gib_of_gp3_matches_the_worked_example() -> None:
    # Given the db.m5.large of the worked example: Multi-AZ, 100 GiB of gp3 allocated, 50 % CPU for the hour
    attributes = {
        "multi_az": True,
        "engine": "postgres",
        "storage_type": "gp3",
        "allocated_storage_gib": 100,
        "vcpus": 2,
        "memory_gib": 8,
    }
    resource = Resource(Service.RDS, "us-east-1", "db-1", "db.m5.large", attributes)
    metrics = {request: [50.0] for request in rds.SLICE.metric_requests(resource, CONTEXT.hour)}
    (record,) = rds.SLICE.usage(resource, metrics, CONTEXT)

    # When it is estimated
    got = estimate(record)

    # Then it is twice the m5.large's compute and memory plus 107.374 GB of SSD with two copies (Multi-AZ, as
    # an EBS volume has), as the document prints
    assert got.storage_kwh == pytest.approx(estimate(_volume(100)).storage_kwh, rel=1e-12)
    printed = _documented_kwh("RDS db.m5.large Multi-AZ, 100 GiB gp3, 50 %")
    assert _as_printed(got.energy_kwh, printed) == printed
