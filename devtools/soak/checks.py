"""The soak's verdicts: its ledger against the fault-free reference's, each check naming what it found."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from carbonmeter.models import HourStatus, hour_key
from devtools.soak.ledger import Item, Key, hour_of_partition, hour_of_sort_key
from devtools.soak.period_checks import period_mismatches
from devtools.soak.run import RunResult

RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def connection_hours(connection_ids: Sequence[str], hours: Sequence[datetime]) -> set[Key]:
    return {(connection_id, hour_key(hour)) for connection_id in connection_ids for hour in hours}


def check(soak: RunResult, reference: RunResult, connection_ids: Sequence[str]) -> list[Check]:
    """Compare the soak's ledger with the reference's; every check names what it found."""
    expected = connection_hours(connection_ids, soak.hours)
    checks = [
        _covers(
            "usage: every connection-hour stored", {hour_of_partition(pk) for pk, _ in soak.ledger.usage}, expected
        ),
        _covers(
            "emissions: every connection-hour stored",
            {hour_of_partition(pk) for pk, _ in soak.ledger.emissions},
            expected,
        ),
        _covers(
            "roll-ups: every connection-hour stored",
            {hour_of_sort_key(i) for i in soak.ledger.rollups.values()},
            expected,
        ),
    ]
    for kind in ("usage", "emissions", "rollups", "tops"):
        checks.append(_same_items(kind, getattr(soak.ledger, kind), getattr(reference.ledger, kind)))
    for run in (soak, reference):
        checks.append(_complete(run, connection_hours(connection_ids, run.hours)))
    checks.append(_same_totals("totals (emission records)", soak.ledger.totals(), reference.ledger.totals()))
    checks.append(_same_totals("totals (roll-ups)", soak.ledger.rollup_totals(), reference.ledger.rollup_totals()))
    # The soak's own ledger: the reference's is cut down to the soak's hours, its days are not.
    checks.append(_periods_match_their_parts(soak))
    left = sum(soak.left_in_dead_letters.values()) + sum(reference.left_in_dead_letters.values())
    checks.append(Check("dead-letter queues empty at the end", left == 0, f"{left} messages left"))
    ref_failures = sum(n for key, n in reference.counts.items() if "failed" in key) + sum(
        reference.dead_letters.values()
    )
    checks.append(Check("reference run had no failure", ref_failures == 0, f"{ref_failures} failures"))
    return checks


def _periods_match_their_parts(run: RunResult) -> Check:
    checked, problems = period_mismatches(run.ledger)
    detail = f"{checked} days and months" + (f"; {len(problems)} differ (e.g. {problems[0]})" if problems else "")
    return Check(f"{run.name}: every day and month equals its stored parts", checked > 0 and not problems, detail)


def _covers(name: str, found: set[Key], expected: set[Key]) -> Check:
    missing, extra = expected - found, found - expected
    detail = f"{len(found & expected)} of {len(expected)}"
    if missing or extra:
        detail += f"; missing {len(missing)} (e.g. {sorted(missing)[:2]}), unexpected {len(extra)}"
    return Check(name, not missing and not extra, detail)


def _same_items(kind: str, soak: Mapping[Key, Item], reference: Mapping[Key, Item]) -> Check:
    missing = reference.keys() - soak.keys()
    extra = soak.keys() - reference.keys()
    differing = [key for key in soak.keys() & reference.keys() if _canonical(soak[key]) != _canonical(reference[key])]
    passed = not (missing or extra or differing)
    detail = f"{len(soak)} items, reference {len(reference)}"
    if not passed:
        detail += f"; missing {len(missing)}, extra {len(extra)}, differing {len(differing)}"
        example = sorted(missing | extra | set(differing))[:1]
        detail += f" (e.g. {example})"
    return Check(f"{kind}: same keys and values as the reference", passed, detail)


def _canonical(item: Item) -> str:
    return json.dumps(item, sort_keys=True, default=_plain)


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot compare {type(value).__name__}")


def _complete(run: RunResult, expected: set[Key]) -> Check:
    statuses = {hour_of_sort_key(item): item for item in run.ledger.statuses.values()}
    # Read as the pipeline reads a stored status: a scope stored by any attempt is not missing.
    incomplete = [
        key for key in expected if key not in statuses or not HourStatus.model_validate(statuses[key]).complete
    ]
    extra = statuses.keys() - expected
    detail = f"{len(expected) - len(incomplete)} of {len(expected)} complete"
    if extra:
        detail += f", {len(extra)} unexpected"
    return Check(f"{run.name}: every hour's status complete", not incomplete and not extra, detail)


def _same_totals(name: str, soak: Mapping[str, float], reference: Mapping[str, float]) -> Check:
    differing = [k for k in reference if not math.isclose(soak[k], reference[k], rel_tol=RELATIVE_TOLERANCE)]
    return Check(
        name, not differing, f"within {RELATIVE_TOLERANCE:g} relative" if not differing else f"differ: {differing}"
    )
