"""Low, central and high values carried together through the estimate.

Bounds are propagated by evaluating each formula at the ends of its inputs' ranges (interval arithmetic on
monotone formulas), never by adding variances: the sources give ranges, not distributions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from carbonmeter.models import Range


@dataclass(frozen=True)
class Band:
    low: float
    central: float
    high: float

    @classmethod
    def exact(cls, value: float) -> Band:
        return cls(value, value, value)

    @classmethod
    def around(cls, central: float, low: float, high: float) -> Band:
        """A band whose bounds always enclose the central figure, whatever rounding or rule produced them."""
        return cls(min(low, central), central, max(high, central))

    def scaled(self, low_factor: float, high_factor: float) -> Band:
        return Band.around(self.central, self.low * low_factor, self.high * high_factor)

    def times(self, factor: float) -> Band:
        return Band(self.low * factor, self.central * factor, self.high * factor)

    def __add__(self, other: Band) -> Band:
        return Band(self.low + other.low, self.central + other.central, self.high + other.high)

    def as_range(self) -> Range:
        return Range(low=self.low, high=self.high)


ZERO = Band.exact(0.0)


def total(bands: Iterable[Band]) -> Band:
    result = ZERO
    for band in bands:
        result = result + band
    return result
