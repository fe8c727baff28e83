"""The host whose manufacturing emissions an instance type missing from the data is taken to share.

The rule (see ``docs/methodology.md``, "Embodied emissions"): the nearest family of the data with the same
class letters and CPU vendor, else none, and the caller charges the median family's embodied per vCPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from carbonmeter.emissions.coefficients import Coefficients, EmbodiedHost
from carbonmeter.emissions.hardware import family_of

EMBODIED_FROM_MEDIAN = "embodied_from_median"
EMBODIED_FROM_SIBLING = "embodied_from_sibling:"

# AWS's naming: class letters, generation, then option letters (``m7gd``: m, 7, "gd"), and for a few families a
# variant after a dash (``c7i-flex``, ``u7i-12tb``, ``p6-b200``). Names outside it (``u-6tb1``) have no siblings.
_FAMILY_NAME = re.compile(r"^(?P<letters>[a-z]+)(?P<generation>\d+)(?P<options>[a-z]*)(?:-[a-z0-9]+)?$")
# The first option letter names the CPU vendor when it is one of these (m7a, m7g, m7i); older Intel families
# have none (m5). Only the remaining letters (d: local NVMe, n: network, e, z, b ...) describe the host.
_VENDOR_LETTERS = frozenset("agi")


def embodied_from_sibling(family: str, sibling: str) -> str:
    return f"{EMBODIED_FROM_SIBLING}{family}->{sibling}"


@dataclass(frozen=True)
class FamilyName:
    """An instance family's name taken apart: ``m7gd`` -> class ``m``, generation 7, host options ``d``."""

    letters: str
    generation: int
    options: str

    @classmethod
    def parse(cls, family: str) -> FamilyName | None:
        match = _FAMILY_NAME.match(family)
        if match is None:
            return None
        options = match["options"]
        if options[:1] in _VENDOR_LETTERS:
            options = options[1:]
        return cls(match["letters"], int(match["generation"]), options)


@cache
def _family_name(family: str) -> FamilyName | None:
    # The calculator looks for a sibling once per record, across every family of the data; names never change.
    return FamilyName.parse(family)


def embodied_host(c: Coefficients, instance_type: str, manufacturer: str | None) -> tuple[EmbodiedHost | None, str]:
    """The host a type missing from the data is taken to share, and the flag saying which rule chose it.

    ``None`` (flag ``embodied_from_median``) when no family of the data has the type's class letters and CPU
    vendor; the caller then charges the median family's embodied per vCPU.
    """
    family = family_of(instance_type)
    sibling = _sibling_family(c, family, _manufacturer(c, family, manufacturer))
    if sibling is None:
        return None, EMBODIED_FROM_MEDIAN
    return c.family_host(sibling), embodied_from_sibling(family, sibling)


def _manufacturer(c: Coefficients, family: str, reported: str | None) -> str | None:
    # AWS's documentation first, as for the processor rule; DescribeInstanceTypes' answer covers the rest.
    documented = c.processor_families.get(family)
    return documented.manufacturer if documented else reported or c.family_manufacturers.get(family)


def _sibling_family(c: Coefficients, family: str, manufacturer: str | None) -> str | None:
    # Searched once per family and vendor for a set of coefficients (``Coefficients.memo``), not once per record.
    key = ("sibling_family", family, manufacturer)
    if key not in c.memo:
        c.memo[key] = _nearest_family(c, family, manufacturer)
    found: str | None = c.memo[key]
    return found


def _nearest_family(c: Coefficients, family: str, manufacturer: str | None) -> str | None:
    """The nearest family of the data with the same class letters and vendor.

    Nearest: the closest generation; among equally close ones the family with the same host options (m7gd ->
    m6gd, not m6g: local disks add to a host's figure), then the newer.
    """
    name = _family_name(family)
    if name is None or manufacturer is None:
        return None
    candidates = []
    for other, vendor in c.family_manufacturers.items():
        other_name = _family_name(other)
        if other_name is None or vendor != manufacturer or other_name.letters != name.letters:
            continue
        distance = abs(other_name.generation - name.generation)
        candidates.append(((distance, other_name.options != name.options, -other_name.generation, other), other))
    return min(candidates)[1] if candidates else None
