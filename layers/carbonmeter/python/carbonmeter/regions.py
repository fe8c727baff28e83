"""Region names as users type them: checked against botocore's list before anything is collected.

A misspelt region would otherwise fail deep inside botocore (no endpoint) or, worse, be stored in a connection
and fail every hour. The CLI, the workbench and (later) the HTTP API share this one check.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable

import botocore.session

# The partitions whose regions a connection may name (China and GovCloud have their own).
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


class UnknownRegionError(ValueError):
    """A region name botocore does not know, with the closest known ones."""


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region botocore's endpoint data lists for EC2 (which is in every region), in every partition."""
    session = botocore.session.get_session()
    return frozenset(
        region for partition in PARTITIONS for region in session.get_available_regions("ec2", partition_name=partition)
    )


def parse_regions(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as region names, in order and without repeats; raise ``UnknownRegionError`` naming the unknown.

    Region names are lower case; an upper-case one (``US-EAST-1``) is taken as the same region.
    """
    regions = tuple(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    if not regions:
        raise UnknownRegionError("no region given")
    known = known_regions()
    unknown = [region for region in regions if region not in known]
    if unknown:
        named = ", ".join(_with_suggestion(region, known) for region in unknown)
        raise UnknownRegionError(f"unknown region(s): {named}")
    return regions


# Letters typed for the digit that ends every region name.
_LOOKALIKE_DIGITS = str.maketrans({"l": "1", "i": "1", "o": "0", "z": "2", "s": "5"})


def _with_suggestion(region: str, known: frozenset[str]) -> str:
    closest = _closest(region, known)
    return f"{region} (did you mean {closest}?)" if closest else region


def _closest(region: str, known: frozenset[str]) -> str | None:
    stem, _, last = region.rpartition("-")
    lookalike = f"{stem}-{last.translate(_LOOKALIKE_DIGITS)}"
    if lookalike in known:
        return lookalike
    scored = [(difflib.SequenceMatcher(None, region, name).ratio(), name) for name in known]
    # Ties (us-east-1 and us-east-2 are as close to us-east-x) go to the first in order.
    score, name = min(((-ratio, name) for ratio, name in scored), default=(0.0, ""))
    return name if -score >= 0.6 else None
