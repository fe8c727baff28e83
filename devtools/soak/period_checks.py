"""The soak's check of days and months: each stored period equals the recomputation from the parts stored.

Faults, retries and duplicate deliveries make calculators refresh the same day concurrently and out of order;
whatever happened, a day must hold exactly its hourly roll-ups and hours' tops and count exactly its calculated
hours, and a month exactly its days.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from carbonmeter import periods
from carbonmeter.models import HourStatus, Rollup
from carbonmeter.periods import FIGURES, Granularity, PeriodRollup
from carbonmeter.store import period_from_item
from carbonmeter.tops import ResourceTop
from devtools.soak.ledger import Item, Ledger

RELATIVE_TOLERANCE = 1e-9


def period_mismatches(ledger: Ledger) -> tuple[int, list[str]]:
    """(periods checked, one line per period that differs from its parts)."""
    stored = [period_from_item(item) for item in ledger.periods.values() if "written_generation" in item]
    hourly = _rollups_by_day(ledger.rollups.values())
    tops = _tops_by_day(ledger.tops.values())
    calculated = _calculated_hours_by_day(ledger.statuses.values())
    days = {(p.connection_id, p.start): p for p in stored if p.granularity is Granularity.DAY}
    problems = []
    for period in stored:
        key = (period.connection_id, period.start)
        if period.granularity is Granularity.DAY:
            expected = periods.day_from_hours(
                period.connection_id, period.start, hourly.get(key, []), calculated.get(key, 0), tops.get(key, {})
            )
        else:
            month_days = [day for (c, start), day in sorted(days.items()) if c == period.connection_id
                          and periods.period_start(start, Granularity.MONTH) == period.start]  # fmt: skip
            expected = periods.month_from_days(
                period.connection_id, period.start, month_days, sum(d.hours_covered for d in month_days)
            )
        if not _same(period, expected):
            problems.append(f"{period.connection_id} {period.granularity} {period.start:%Y-%m-%d}")
    return len(stored), problems


def _same(found: PeriodRollup, expected: PeriodRollup) -> bool:
    if (found.hours_covered, len(found.groups)) != (expected.hours_covered, len(expected.groups)):
        return False
    if not _same_top(found.top, expected.top):
        return False
    for left, right in zip(found.groups, expected.groups, strict=True):
        if (left.group_by, left.group, left.resources) != (right.group_by, right.group, right.resources):
            return False
        for name in FIGURES:
            a, b = getattr(left, name), getattr(right, name)
            if not all(math.isclose(x, y, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-15) for x, y in
                       ((a.central, b.central), (a.low, b.low), (a.high, b.high))):  # fmt: skip
                return False
    return True


def _same_top(found: ResourceTop | None, expected: ResourceTop | None) -> bool:
    if found is None or expected is None:
        return found is expected
    if [r.key for r in found.resources] != [r.key for r in expected.resources]:
        return False
    pairs = [(a.kgco2e, b.kgco2e) for a, b in zip(found.resources, expected.resources, strict=True)]
    pairs.append((found.rest_kgco2e, expected.rest_kgco2e))
    return found.hours_unknown == expected.hours_unknown and all(
        math.isclose(x, y, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-15) for x, y in pairs
    )


def _tops_by_day(items: Iterable[Item]) -> dict[tuple[str, Any], dict[Any, ResourceTop]]:
    by_day: dict[tuple[str, Any], dict[Any, ResourceTop]] = defaultdict(dict)
    for item in items:
        hour = periods.period_start(datetime.fromisoformat(item["hour"]), Granularity.HOUR)
        by_day[(item["pk"], periods.period_start(hour, Granularity.DAY))][hour] = ResourceTop.model_validate_json(
            item["top"]
        )
    return by_day


def _rollups_by_day(items: Iterable[Item]) -> dict[tuple[str, Any], list[Rollup]]:
    by_day: dict[tuple[str, Any], list[Rollup]] = defaultdict(list)
    # In sort-key order, as the calculator's query reads them.
    for item in sorted(items, key=lambda i: i["sk"]):
        rollup = _model(Rollup, item)
        by_day[(rollup.connection_id, periods.period_start(rollup.hour, Granularity.DAY))].append(rollup)
    return by_day


def _calculated_hours_by_day(items: Iterable[Item]) -> dict[tuple[str, Any], int]:
    counts: dict[tuple[str, Any], int] = defaultdict(int)
    for item in items:
        status = _model(HourStatus, item)
        if status.calculated:
            counts[(status.connection_id, periods.period_start(status.hour, Granularity.DAY))] += 1
    return counts


def _model(model: Any, item: Item) -> Any:
    return model.model_validate(json.loads(json.dumps(item, default=_plain)))


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot read {type(value).__name__}")
