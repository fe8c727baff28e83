"""Reports as ``carbonmeter.report`` prints them, for tests that read its tables."""

from __future__ import annotations

# A figure as the report prints it, "central [low, high]" (the parts are padded to line up in their column)
ESTIMATE = r"([\d.,]+) \[\s*([\d.,]+),\s*([\d.,]+)\]"
# Energy, operational and embodied emissions, in the columns of a report row
ESTIMATES = rf"{ESTIMATE}\s+{ESTIMATE}\s+{ESTIMATE}"
