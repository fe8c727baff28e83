"""Emissions methodology: CCF's published coefficients with its known defects corrected.

See ``docs/methodology.md`` for every formula and constant, and ``data/SOURCES.md`` for the data.
"""

from carbonmeter.emissions.coefficients import Coefficients, load_coefficients
from carbonmeter.emissions.estimate import estimate, estimate_all, rollup
from carbonmeter.emissions.methodology import METHODOLOGY_VERSION

__all__ = ["METHODOLOGY_VERSION", "Coefficients", "estimate", "estimate_all", "load_coefficients", "rollup"]
