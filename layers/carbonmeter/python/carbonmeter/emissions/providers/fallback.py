"""A provider that never loses a record: what the chosen provider cannot estimate, the fallback does, flagged."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from carbonmeter.emissions.providers.base import (
    REASON_ERROR,
    EmissionsProvider,
    Outcome,
    PartialProvider,
    ProviderError,
    Unestimated,
    fallback_flag,
)
from carbonmeter.emissions.providers.builtin import BuiltinProvider
from carbonmeter.models import EmissionRecord, UsageRecord

logger = logging.getLogger(__name__)


class FallbackProvider:
    """Runs ``primary``; records it could not estimate (or the whole batch, when it failed) come from ``fallback``.

    A fallback record carries ``provider`` = the fallback's name and the flag
    ``provider_fallback:<primary>:<reason>``; the others carry the primary's name.
    """

    def __init__(self, primary: PartialProvider, fallback: EmissionsProvider | None = None) -> None:
        self.primary = primary
        self.fallback = fallback or BuiltinProvider()
        self.name = primary.name

    def estimate(self, usages: Sequence[UsageRecord]) -> list[EmissionRecord]:
        usages = list(usages)
        outcomes = self._primary_outcomes(usages)
        missing = [outcome for outcome in outcomes if isinstance(outcome, Unestimated)]
        if missing:
            reasons = Counter(outcome.reason for outcome in missing)
            logger.warning(
                "emissions provider %s could not estimate %d of %d records; using %s for them: %s",
                self.primary.name,
                len(missing),
                len(usages),
                self.fallback.name,
                dict(reasons),
            )
        replacements = iter(self.fallback.estimate([outcome.usage for outcome in missing]))
        return [self._marked(next(replacements), o.reason) if isinstance(o, Unestimated) else o for o in outcomes]

    def _primary_outcomes(self, usages: list[UsageRecord]) -> list[Outcome]:
        try:
            outcomes = self.primary.try_estimate(usages)
        except ProviderError as exc:
            logger.warning("emissions provider %s failed for the whole batch: %s", self.primary.name, exc)
            return [Unestimated(usage, exc.reason) for usage in usages]
        except Exception:
            # Whatever broke inside a provider, the hour is still estimated (and the failure is visible in flags).
            logger.exception("emissions provider %s raised an unexpected error", self.primary.name)
            return [Unestimated(usage, REASON_ERROR) for usage in usages]
        if len(outcomes) != len(usages):
            logger.error(
                "emissions provider %s returned %d outcomes for %d records",
                self.primary.name,
                len(outcomes),
                len(usages),
            )
            return [Unestimated(usage, REASON_ERROR) for usage in usages]
        return outcomes

    def _marked(self, record: EmissionRecord, reason: str) -> EmissionRecord:
        flag = fallback_flag(self.primary.name, reason)
        return record.model_copy(update={"provider": self.fallback.name, "flags": (*record.flags, flag)})
