"""The resources that emitted the most over any range of hours, from the stored tops (``carbonmeter.tops``).

A range is read as whole months where it holds them, whole days around them, and hours at its ragged ends: at
most seven queries whatever its length (one of months, one of days on each side, two of hours on each end: their
tops and which hours have figures), never one per hour. What the
tops cannot say for certain is said: each resource's least and most, whether its rank is certain, the most any
resource left out could have emitted, and the hours whose resources are unknown (calculated before tops were kept).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from carbonmeter.models import HOUR, Figure
from carbonmeter.periods import Granularity, PeriodRollup, cover
from carbonmeter.tops import TOP_KEPT, ResourceTop, TopResource, candidates

DEFAULT_COUNT = 10


class TopCountError(ValueError):
    """More resources asked for than the stored tops keep, or fewer than one."""


class RankedResource(BaseModel):
    """One resource of a range's top: its figures over the range as far as the tops know them, and their bounds.

    ``kgco2e``: its central kg CO2e (operational + embodied) over the periods that listed it, the least it emitted;
    ``most_kgco2e``: that plus the most it can have emitted in the periods that did not; ``exact`` when they are
    equal. ``rank_certain``: its least beats the most of every resource below it, and its most is beaten by the
    least of every resource above it.
    """

    model_config = ConfigDict(frozen=True)

    rank: int
    service: str
    region: str
    resource_id: str
    resource_types: tuple[str, ...] = ()
    energy_kwh: Figure
    operational_kgco2e: Figure
    embodied_kgco2e: Figure
    kgco2e: float
    most_kgco2e: float
    exact: bool
    rank_certain: bool


class TopResources(BaseModel):
    """A connection's largest resources over [start, end), largest first.

    ``rest_most_kgco2e``: every resource not listed emitted at most this over the range; ``exact``: every figure is
    exact and every rank certain. ``hours_unknown``: hours with figures whose resources were not kept (calculated
    before tops were); their resources are in no figure here, and ``exact`` is then false.
    """

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    count: int
    resources: tuple[RankedResource, ...]
    rest_most_kgco2e: float
    exact: bool
    resource_count: int
    hours_covered: int
    hours_in_range: int
    hours_unknown: int


class TopLedger(Protocol):
    """What the top is read from (``carbonmeter.store.EmissionStore`` in production)."""

    def hour_tops(self, connection_id: str, start: datetime, end: datetime) -> dict[datetime, ResourceTop]: ...

    def rollup_hours(self, connection_id: str, start: datetime, end: datetime) -> set[datetime]: ...

    def period_tops(
        self, connection_id: str, granularity: Granularity, start: datetime, end: datetime
    ) -> list[PeriodRollup]: ...


def check_count(count: int) -> None:
    if not 1 <= count <= TOP_KEPT:
        raise TopCountError(f"count: from 1 to {TOP_KEPT} (the resources each period keeps), not {count}")


class _Gathered:
    """The tops of a range's parts, with the hours they cover and the hours whose resources are unknown."""

    def __init__(self) -> None:
        self.tops: list[ResourceTop] = []
        self.covered = 0
        self.unknown = 0

    def hours(self, ledger: TopLedger, connection_id: str, start: datetime, end: datetime) -> None:
        found = ledger.hour_tops(connection_id, start, end)
        with_figures = ledger.rollup_hours(connection_id, start, end)
        self.tops += [found[hour] for hour in sorted(found)]
        self.covered += len(with_figures | {hour for hour, top in found.items() if top.resource_count})
        self.unknown += len(with_figures - set(found))

    def periods(self, found: Sequence[PeriodRollup]) -> None:
        for period in found:
            self.covered += period.hours_covered
            if period.top is None:
                self.unknown += period.hours_covered
            else:
                self.unknown += period.top.hours_unknown
                self.tops.append(period.top)


def top_resources(
    ledger: TopLedger, connection_id: str, start: datetime, end: datetime, count: int = DEFAULT_COUNT
) -> TopResources:
    """The ``count`` largest resources of [start, end) (whole hours), by central kg CO2e, with their bounds."""
    check_count(count)
    gathered = _Gathered()
    for granularity, part_start, part_end in cover(start, end):
        if granularity is Granularity.HOUR:
            gathered.hours(ledger, connection_id, part_start, part_end)
        else:
            gathered.periods(ledger.period_tops(connection_id, granularity, part_start, part_end))
    ranked, rest = candidates(gathered.tops)
    chosen = _ranked(ranked, rest, count, known=gathered.unknown == 0)
    rest_most = max([rest, *(resource.most_kgco2e for resource in ranked[count:])])
    return TopResources(
        start=start,
        end=end,
        count=count,
        resources=chosen,
        rest_most_kgco2e=rest_most,
        exact=gathered.unknown == 0 and all(r.exact and r.rank_certain for r in chosen),
        resource_count=max((top.resource_count for top in gathered.tops), default=0),
        hours_covered=gathered.covered,
        hours_in_range=int((end - start) / HOUR),
        hours_unknown=gathered.unknown,
    )


def _ranked(ranked: list[TopResource], rest: float, count: int, known: bool) -> tuple[RankedResource, ...]:
    # The most of everything below each place (every candidate after it, and any resource no part listed), and
    # the least of everything above it.
    below = [rest] * (len(ranked) + 1)
    for index in range(len(ranked) - 1, -1, -1):
        below[index] = max(below[index + 1], ranked[index].most_kgco2e)
    above = math.inf
    chosen = []
    for index, resource in enumerate(ranked[:count]):
        certain = known and resource.kgco2e >= below[index + 1] and resource.most_kgco2e <= above
        chosen.append(_of(index + 1, resource, certain))
        above = min(above, resource.kgco2e)
    return tuple(chosen)


def _of(rank: int, resource: TopResource, certain: bool) -> RankedResource:
    return RankedResource(
        rank=rank,
        service=resource.service,
        region=resource.region,
        resource_id=resource.resource_id,
        resource_types=resource.resource_types,
        energy_kwh=resource.energy_kwh,
        operational_kgco2e=resource.operational_kgco2e,
        embodied_kgco2e=resource.embodied_kgco2e,
        kgco2e=resource.kgco2e,
        most_kgco2e=resource.most_kgco2e,
        exact=resource.unlisted_kgco2e == 0,
        rank_certain=certain,
    )


__all__ = [
    "DEFAULT_COUNT",
    "RankedResource",
    "TopCountError",
    "TopLedger",
    "TopResources",
    "check_count",
    "top_resources",
]
