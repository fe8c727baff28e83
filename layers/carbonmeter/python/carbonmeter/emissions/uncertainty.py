"""Low, central and high values carried together through the estimate.

Bounds are propagated by evaluating each formula at the ends of its inputs' ranges (interval arithmetic on
monotone formulas), never by adding variances: the sources give ranges, not distributions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from carbonmeter.models import Range


# A named tuple rather than a frozen dataclass: every record makes a dozen or more of them, and a tuple is built
# several times faster (docs/benchmarks.md, "Calculator throughput"); it is as immutable.
class Band(NamedTuple):
    low: float
    central: float
    high: float

    @classmethod
    def exact(cls, value: float) -> Band:
        return _band(cls, (value, value, value))

    @classmethod
    def around(cls, central: float, low: float, high: float) -> Band:
        """A band whose bounds always enclose the central figure, whatever rounding or rule produced them."""
        # min(low, central) and max(high, central), spelled out: the same comparisons without two calls.
        return _band(cls, (central if central < low else low, central, central if central > high else high))

    def scaled(self, low_factor: float, high_factor: float) -> Band:
        low, central, high = self
        return Band.around(central, low * low_factor, high * high_factor)

    def times(self, factor: float) -> Band:
        low, central, high = self
        return _band(Band, (low * factor, central * factor, high * factor))

    def __add__(self, other: Band) -> Band:  # type: ignore[override]
        return _band(Band, (self[0] + other[0], self[1] + other[1], self[2] + other[2]))

    def as_range(self) -> Range:
        return Range(low=self.low, high=self.high)

    def bounds(self) -> dict[str, float]:
        """The bounds as a ``Range``'s fields, for a model that validates them into one (faster than a ``Range``)."""
        return {"low": self.low, "high": self.high}


# The tuple built directly: a named tuple's own constructor is a Python function in front of this same call, and
# the estimate builds a dozen bands a record.
_band = tuple.__new__

ZERO = Band.exact(0.0)


def total(bands: Iterable[Band]) -> Band:
    # The same additions, in the same order from 0.0, as adding the bands one by one; one Band built, not one each.
    low = central = high = 0.0
    for band in bands:
        low, central, high = low + band[0], central + band[1], high + band[2]
    return _band(Band, (low, central, high))
