"""What each shared flag means, in a few words for a report's footnote (docs/methodology.md#flags has the table).

A service's own flags are declared with its slice (``ServiceSlice.flag_meanings``); ``services.flag_meaning``
reads both. ``tests/unit/test_report_docs.py`` keeps them and the documented ones equal.
"""

from __future__ import annotations

MEANINGS: dict[str, str] = {
    "utilisation_default_50pct": "no CPU measurement: the default 50 % utilisation",
    "burstable_baseline_scaling": "burstable vCPUs scaled by baseline % / 50",
    "instance_type_not_in_data": "instance type not in the data: host unknown",
    "embodied_from_sibling": "embodied from a sibling family's host",
    "embodied_from_median": "embodied from the median family's host",
    "microarchitecture_unknown": "CPU without coefficients: AWS averages",
    "microarchitecture_mapped": "CPU coefficients of the nearest generation",
    "microarchitecture_from_manufacturer": "CPU family unknown: the manufacturer's newest generation",
    "gpu_coefficients_from_tdp": "GPU watts scaled from its TDP",
    "burstable_baseline_unknown": "burstable baseline unknown: all vCPUs at 50 %",
    "aurora_serverless_acu_mapping": "Aurora Serverless v2 sized from its ACUs",
    "capacity_unknown": "size unknown: compute, memory and embodied left at 0",
    "gpu_utilisation_default_50pct": "GPU at the default 50 % utilisation",
    "gpu_model_unknown": "GPU model without coefficients: GPU energy left at 0",
    "storage_class_unknown": "storage class unknown: the service default",
    "region_grid_factor_fallback": "region without a grid factor: the table's fallback",
    "provider_fallback": "the chosen provider failed: builtin figures",
    "grid_factor_world_average": "a global service: the world-average grid factor",
}
