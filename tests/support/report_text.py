"""Reports as ``carbonmeter.report`` prints them, for tests that read its tables."""

from __future__ import annotations

# A figure as the report prints it, "central [low, high] unit" (the parts are padded to line up in their column),
# or "n/a" where the methodology does not model it
ESTIMATE = r"(?:([\d.,]+) \[\s*([\d.,]+),\s*([\d.,]+)\] (?:MWh|kWh|Wh|mWh|t|kg|g|mg)\s*|(n/a))"
# Energy, operational, embodied and total emissions, in the columns of a report row
ESTIMATES = rf"{ESTIMATE}\s+{ESTIMATE}\s+{ESTIMATE}\s+{ESTIMATE}"
