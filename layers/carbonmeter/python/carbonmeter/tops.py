"""The resources that emitted the most in an hour, a day or a month, kept beside the roll-ups, with their bounds.

No roll-up keeps resources, and reading every hour's records to rank them costs one query per hour (a year: 8,760).
So each calculated hour keeps its ``TOP_KEPT`` largest resources by central kg CO2e (operational + embodied), with
their figures, and what bounds the rest: ``rest_kgco2e``, the most any resource left out emitted (the largest of
those left out; 0 when none was). A day merges its hours' tops, a month its days', and a range its days and
months, always the same way (``merge``): a resource's figures are the sum over the parts that listed it (its least),
and the parts that did not list it could have added at most their ``rest_kgco2e`` each (``unlisted_kgco2e``; its
most is the sum of both). Merged again, the top is cut to ``TOP_KEPT`` and the most of everything cut off becomes
the merged ``rest_kgco2e``. When every hour held at most ``TOP_KEPT`` resources, every ``rest_kgco2e`` is 0 and the
figures are exact: the very sums of the hours' records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from carbonmeter.models import EmissionRecord, Figure

# How many resources an hour, a day and a month keep: enough for the page's 10 with room for their ranks to be
# certain, and small enough that a day's item stays some 20 KB whatever the fleet (tests/unit/test_tops.py).
TOP_KEPT = 50

ResourceKey = tuple[str, str, str]


class TopResource(BaseModel):
    """One resource's figures over the parts of a period that listed it, and the most the others could add."""

    model_config = ConfigDict(frozen=True)

    service: str
    region: str
    resource_id: str
    # The types its records had (a bucket's storage classes, an instance resized within the period).
    resource_types: tuple[str, ...] = ()
    energy_kwh: Figure = Figure()
    operational_kgco2e: Figure = Figure()
    embodied_kgco2e: Figure = Figure()
    # Central kg CO2e it may have emitted, beyond the figures, in the parts of the period that did not list it.
    unlisted_kgco2e: float = 0.0

    @property
    def key(self) -> ResourceKey:
        return (self.service, self.region, self.resource_id)

    @property
    def kgco2e(self) -> float:
        """Its known central kg CO2e: the least it emitted."""
        return self.operational_kgco2e.central + self.embodied_kgco2e.central

    @property
    def most_kgco2e(self) -> float:
        return self.kgco2e + self.unlisted_kgco2e

    def plus(self, other: TopResource) -> TopResource:
        return TopResource(
            service=self.service,
            region=self.region,
            resource_id=self.resource_id,
            resource_types=tuple(sorted({*self.resource_types, *other.resource_types})),
            energy_kwh=self.energy_kwh + other.energy_kwh,
            operational_kgco2e=self.operational_kgco2e + other.operational_kgco2e,
            embodied_kgco2e=self.embodied_kgco2e + other.embodied_kgco2e,
            unlisted_kgco2e=self.unlisted_kgco2e + other.unlisted_kgco2e,
        )


class ResourceTop(BaseModel):
    """The largest resources of an hour, a day or a month, largest first, and what bounds the rest."""

    model_config = ConfigDict(frozen=True)

    resources: tuple[TopResource, ...] = ()
    # Every resource not listed emitted at most this (central kg CO2e) over the period.
    rest_kgco2e: float = 0.0
    # The resources of the hour; over a day or a month, the most in any one hour (as the groups count them).
    resource_count: int = 0
    # Hours with figures but no top (calculated before tops were kept): their resources are counted nowhere here.
    hours_unknown: int = 0


def of_records(records: Iterable[EmissionRecord], keep: int = TOP_KEPT) -> ResourceTop:
    """One hour's top: its records added up per resource (a resource's types together), the largest ``keep``."""
    totals: dict[ResourceKey, TopResource] = {}
    for record in records:
        part = _of_record(record)
        known = totals.get(part.key)
        totals[part.key] = part if known is None else known.plus(part)
    ranked = _by_size(totals.values())
    left_out = ranked[keep:]
    return ResourceTop(
        resources=tuple(ranked[:keep]),
        rest_kgco2e=left_out[0].kgco2e if left_out else 0.0,
        resource_count=len(ranked),
    )


def _of_record(record: EmissionRecord) -> TopResource:
    return TopResource(
        service=str(record.service),
        region=record.region,
        resource_id=record.resource_id,
        resource_types=(record.resource_type,),
        energy_kwh=Figure.around(record.energy_kwh, record.energy_kwh_range),
        operational_kgco2e=Figure.around(record.operational_kgco2e, record.operational_kgco2e_range),
        embodied_kgco2e=Figure.around(record.embodied_kgco2e, record.embodied_kgco2e_range),
    )


def _by_size(resources: Iterable[TopResource]) -> list[TopResource]:
    # Largest known figure first; the key breaks ties, so the same parts always give the same order.
    return sorted(resources, key=lambda resource: (-resource.kgco2e, resource.key))


def candidates(parts: Sequence[ResourceTop]) -> tuple[list[TopResource], float]:
    """Every resource the parts list, summed and bounded, largest first; and the most of one they all left out."""
    listed: dict[ResourceKey, TopResource] = {}
    listed_in: dict[ResourceKey, set[int]] = {}
    for index, part in enumerate(parts):
        for resource in part.resources:
            known = listed.get(resource.key)
            listed[resource.key] = resource if known is None else known.plus(resource)
            listed_in.setdefault(resource.key, set()).add(index)
    bounded = [
        resource.model_copy(update={"unlisted_kgco2e": resource.unlisted_kgco2e + _rest_outside(parts, listed_in[key])})
        for key, resource in listed.items()
    ]
    return _by_size(bounded), sum(part.rest_kgco2e for part in parts)


def _rest_outside(parts: Sequence[ResourceTop], listed_in: set[int]) -> float:
    # Summed part by part, not as the total less the listed parts': exactly 0 when the other parts are complete.
    return sum(part.rest_kgco2e for index, part in enumerate(parts) if index not in listed_in)


def merge(parts: Sequence[ResourceTop], keep: int = TOP_KEPT, hours_unknown: int = 0) -> ResourceTop:
    """The top of the parts together (hours into a day, days into a month); ``hours_unknown``: the hours of the
    whole that have figures but no part here."""
    ranked, rest = candidates(parts)
    cut = ranked[keep:]
    return ResourceTop(
        resources=tuple(ranked[:keep]),
        rest_kgco2e=max([rest, *(resource.most_kgco2e for resource in cut)]),
        resource_count=max((part.resource_count for part in parts), default=0),
        hours_unknown=hours_unknown + sum(part.hours_unknown for part in parts),
    )


__all__ = ["TOP_KEPT", "ResourceKey", "ResourceTop", "TopResource", "candidates", "merge", "of_records"]
