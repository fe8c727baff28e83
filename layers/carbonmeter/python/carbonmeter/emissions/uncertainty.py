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
        return cls(value, value, value)

    @classmethod
    def around(cls, central: float, low: float, high: float) -> Band:
        """A band whose bounds always enclose the central figure, whatever rounding or rule produced them."""
        # min(low, central) and max(high, central), spelled out: the same comparisons without two calls.
        return cls(central if central < low else low, central, central if central > high else high)

    def scaled(self, low_factor: float, high_factor: float) -> Band:
        return Band.around(self.central, self.low * low_factor, self.high * high_factor)

    def times(self, factor: float) -> Band:
        return Band(self.low * factor, self.central * factor, self.high * factor)

    def __add__(self, other: Band) -> Band:  # type: ignore[override]
        return Band(self.low + other.low, self.central + other.central, self.high + other.high)

    def as_range(self) -> Range:
        return Range(low=self.low, high=self.high)

    def bounds(self) -> dict[str, float]:
        """The bounds as a ``Range``'s fields, for a model that validates them into one (faster than a ``Range``)."""
        return {"low": self.low, "high": self.high}


ZERO = Band.exact(0.0)


def total(bands: Iterable[Band]) -> Band:
    # The same additions, in the same order from 0.0, as adding the bands one by one; one Band built, not one each.
    low = central = high = 0.0
    for band in bands:
        low, central, high = low + band.low, central + band.central, high + band.high
    return Band(low, central, high)
