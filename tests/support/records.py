"""Usage records for tests: one m5.large instance-hour of EC2, changed field by field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from carbonmeter.models import Service, UsageRecord

HOUR = datetime(2026, 11, 23, 10, tzinfo=UTC)


def ec2_usage(**overrides: Any) -> UsageRecord:
    """An hour of an m5.large in us-east-1 at 30 % CPU, with ``overrides`` replacing any field."""
    fields: dict[str, Any] = {
        "connection_id": "acme",
        "account_id": "111122223333",
        "hour": HOUR,
        "region": "us-east-1",
        "service": Service.EC2,
        "resource_id": "i-1",
        "resource_type": "m5.large",
        "vcpus": 2,
        "memory_gib": 8,
        "cpu_utilization_pct": 30.0,
    }
    fields.update(overrides)
    return UsageRecord(**fields)
