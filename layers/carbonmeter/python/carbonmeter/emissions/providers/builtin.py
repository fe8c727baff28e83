"""The project's own methodology and data, offline: the default provider and every other one's fallback."""

from __future__ import annotations

from collections.abc import Sequence

from carbonmeter import emissions
from carbonmeter.models import EmissionRecord, UsageRecord


class BuiltinProvider:
    name = "builtin"

    def estimate(self, usages: Sequence[UsageRecord]) -> list[EmissionRecord]:
        return emissions.estimate_all(usages)
