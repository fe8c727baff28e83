"""The old collector is taken from the repository's history for the benchmark's before (not timed)."""

from __future__ import annotations

import pytest

from devtools import collector_before


def test_a_commit_missing_from_the_history_is_said_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a history without the old commit (a shallow clone, or a copy of the tree)
    monkeypatch.setattr(collector_before, "BEFORE_COMMIT", "0" * 40)
    said: list[str] = []

    # When the old code is to be measured, Then it is not, and why is said
    with pytest.raises(collector_before.BeforeUnavailable, match="no history to take 0000000000"):
        collector_before.measure(10, ["us-east-1"], 0.0, say=said.append)
    assert said == []


def test_the_old_benchmark_that_fails_is_reported_with_its_last_words() -> None:
    # Given the old commit's benchmark, asked for a fleet it refuses (no regions)
    said: list[str] = []

    # When it runs, Then its failure and its error come back, its progress passed on as it came
    with pytest.raises(collector_before.BeforeUnavailable, match="the old benchmark failed"):
        collector_before.measure(10, [""], 0.0, say=said.append)
    assert said[0].startswith(f"[before] the collector at {collector_before.BEFORE_COMMIT[:10]}")
    assert any("error" in line for line in said[1:])
