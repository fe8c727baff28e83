"""The documents that explain a report stay true to it: its flags' meanings and its JSON keys."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from carbonmeter import report
from carbonmeter.aws import ApiCallCounter
from carbonmeter.emissions import estimate_all, rollup
from carbonmeter.models import Service
from carbonmeter.services import FLAG_MEANINGS
from tests.support.estimates import HOUR, usage

ROOT = Path(__file__).parents[2]
# Keys whose names are data (regions, API operations), not vocabulary: their values are checked, not their names.
DATA_KEYED = {"kgco2e_per_kwh", "api_calls", "embodied_excludes"}


def _documented_flags() -> set[str]:
    """The flags of docs/methodology.md's table, up to their first colon."""
    section = (ROOT / "docs" / "methodology.md").read_text(encoding="utf-8").split("\n## Flags\n")[1]
    table = section.split("\n## ")[0]
    return {name.split(":")[0] for name in re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE)}


def test_every_documented_flag_has_a_meaning_for_the_footnotes_and_no_other():
    assert set(FLAG_MEANINGS) == _documented_flags()


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {k for k, v in value.items() for k in ({k} | (set() if k in DATA_KEYED else _keys(v)))}
    if isinstance(value, list):
        return {k for item in value for k in _keys(item)}
    return set()


def test_every_json_key_of_estimate_and_report_is_in_the_readme():
    # Given the JSON of an estimate and of a report over a fleet with every kind of row (a flag, a service whose
    # embodied is not modelled)
    fleet = [
        usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8),
        usage(Service.EBS, "gp3", resource_id="vol-1", storage_gb=100),
    ]
    records = estimate_all(fleet)
    window = (HOUR, HOUR + timedelta(hours=1))
    estimated = {
        **report.estimate_document(records, ApiCallCounter(), *window),
        # As the CLI adds them
        "failed": {},
        "skipped": {},
    }
    stored = report.document(report.from_rollups(rollup(records), *window))
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Reading the report\n")[1].split("\n## ")[0]
    # Then the README's "Reading the report" names every key, in backquotes
    missing = sorted(key for key in _keys(estimated) | _keys(stored) if f"`{key}`" not in readme)
    assert not missing, missing
