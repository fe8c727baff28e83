"""The project's own methodology and data, offline: the default provider and every other one's fallback."""

from __future__ import annotations

from collections.abc import Sequence

from carbonmeter import emissions
from carbonmeter.emissions.coefficients import Coefficients
from carbonmeter.models import EmissionRecord, UsageRecord


class BuiltinProvider:
    name = "builtin"

    def __init__(self, coefficients: Coefficients | None = None) -> None:
        """``coefficients``: the bundled ones with the deployment's choices (``with_choices``); default the bundled."""
        self.coefficients = coefficients

    def estimate(self, usages: Sequence[UsageRecord]) -> list[EmissionRecord]:
        return emissions.estimate_all(usages, self.coefficients)
