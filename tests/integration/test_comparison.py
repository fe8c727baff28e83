"""``make comparison`` for a few rows against a real Boavizta API server started on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonmeter import emissions
from devtools.boavizta_server import running_boavizta
from devtools.comparison.__main__ import main
from devtools.comparison.cases import Case
from devtools.comparison.causes import (
    BOAVIZTA_FALLBACK,
    BURSTABLE_HOST,
    CCF_BURSTABLE_SCALING,
    EMBODIED_MODEL,
    RATIO_HIGH,
    RATIO_LOW,
    UNEXPLAINED,
    findings,
)
from devtools.comparison.ccf import ccf_figures
from devtools.comparison.document import BEGIN_MARKER, END_MARKER
from devtools.comparison.markdown import render
from devtools.comparison.rows import BOAVIZTA, CCF, EMBODIED, ENERGY, METRICS, Run, compare

# An anchor row, a burstable type at low load (CCF scales its vCPUs) and a type Boavizta does not know.
CASES = (
    Case("m5.large", "us-east-1", 50),
    Case("t3.medium", "ap-south-1", 10),
    Case("m8a.2xlarge", "eu-north-1", 90),
)


@pytest.fixture(scope="module")
def boavizta_url() -> Iterator[str]:
    with running_boavizta() as url:
        yield url


@pytest.fixture(scope="module")
def run(boavizta_url: str) -> Run:
    return compare(CASES, boavizta_url)


def test_each_row_carries_the_three_estimates_of_its_usage_record(run: Run) -> None:
    m5, t3, m8a = run.rows

    # The records are the collector's: DescribeInstanceTypes sizes and the case's load as the measured CPU.
    m5_details, m8a_details = m5.usage.details, m8a.usage.details
    assert (m5_details.vcpus, m5_details.memory_gib, m5_details.cpu_manufacturer) == (2, 8, "Intel")
    assert (m8a_details.vcpus, m8a_details.cpu_manufacturer) == (8, "AMD")
    assert [row.usage.details.cpu_utilization_pct for row in run.rows] == [50, 10, 90]
    for row in run.rows:
        builtin = emissions.estimate(row.usage)
        assert row.builtin.energy_kwh == pytest.approx(builtin.energy_kwh)
        assert row.builtin.embodied_kgco2e == pytest.approx(builtin.embodied_kgco2e)
        assert row.ccf == ccf_figures(row.usage)
    # Boavizta answered for the types it knows, with its own grid factor; m8a fell back to builtin, flagged.
    assert run.boavizta_version == "boavizta-api-2.5.0"
    assert m5.boavizta.grid_kgco2e_per_kwh != m5.builtin.grid_kgco2e_per_kwh
    assert not t3.boavizta_fell_back
    assert m8a.boavizta_fell_back
    assert "provider_fallback:boavizta:instance_type_unknown" in m8a.boavizta.notes


def test_ratios_are_builtin_over_each_reference(run: Run) -> None:
    m5, t3, m8a = run.rows
    for row in (m5, t3):
        for metric in METRICS:
            builtin = metric.value(row.builtin)
            assert row.ratio(metric, BOAVIZTA) == pytest.approx(builtin / metric.value(row.boavizta))
            assert row.ratio(metric, CCF) == pytest.approx(builtin / metric.value(row.ccf))
    # m5.large at 50 % in us-east-1 is the methodology's worked example: CCF's formula gives the same figures.
    assert [m5.ratio(metric, CCF) for metric in METRICS] == pytest.approx([1.0, 1.0, 1.0])
    # CCF counts 2 x 20 / 50 = 0.8 vCPUs of a t3.medium whatever the load, and t3 memory is under the baseline.
    assert t3.ratio(ENERGY, CCF) == pytest.approx(2.5)
    # builtin shares t3's embodied host as 2 of the m5 host's 96 vCPUs, CCF as 2 of t3's own 8
    assert t3.ratio(EMBODIED, CCF) == pytest.approx(8 / 96)
    # Boavizta's figures for m8a are builtin's (a fallback), so there is no ratio to show; CCF has no embodied.
    assert all(m8a.ratio(metric, BOAVIZTA) is None for metric in METRICS)
    assert m8a.ratio(EMBODIED, CCF) is None


def test_differences_beyond_2x_are_listed_with_their_cause(run: Run) -> None:
    found = {(f.row.number, f.metric.key, f.reference): f for f in findings(run.rows)}

    for metric in METRICS:
        assert found[(3, metric.key, BOAVIZTA)].causes == (BOAVIZTA_FALLBACK,)
    assert found[(2, ENERGY.key, CCF)].causes == (CCF_BURSTABLE_SCALING,)
    # t3 shares the m5 host since 1.2 (as Boavizta's t3 platform does): what is left against Boavizta is the
    # embodied model; against CCF, CCF's 8-vCPU t3 "host"
    assert found[(2, EMBODIED.key, BOAVIZTA)].causes == (EMBODIED_MODEL,)
    assert found[(2, EMBODIED.key, CCF)].causes == (BURSTABLE_HOST,)
    assert (1, ENERGY.key, CCF) not in found
    for finding in found.values():
        ratio = finding.row.ratio(finding.metric, finding.reference)
        assert ratio is None or not RATIO_LOW <= ratio <= RATIO_HIGH
        assert UNEXPLAINED not in finding.causes


def test_rendered_tables_show_every_figure_and_ratio(run: Run) -> None:
    text = render(run)

    assert "boavizta-api-2.5.0" in text
    for row in run.rows:
        assert f"| {row.number} | `{row.case.instance_type}` |" in text
    m5 = run.rows[0]
    assert f"| {m5.ratio(ENERGY, BOAVIZTA):.2f} | 1.00 |" in text
    assert "**2.50**" in text  # t3.medium energy vs CCF, beyond 2x
    assert "`boavizta-fallback`" in text


def test_write_replaces_only_the_generated_block(
    boavizta_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a document with hand-written text around an old generated block
    before = "# Comparison\n\nHand-written introduction.\n\n"
    after = "\n\n## Why they differ\n\nHand-written explanations.\n"
    document = tmp_path / "comparison.md"
    document.write_text(f"{before}{BEGIN_MARKER}\nstale table\n{END_MARKER}{after}", encoding="utf-8")

    # When the comparison runs for one type and writes the document
    code = main(["--boavizta-url", boavizta_url, "--types", "m5.large", "--write", str(document)])

    # Then the text outside the markers is untouched, and the block holds what was printed
    assert code == 0
    printed = capsys.readouterr().out
    text = document.read_text(encoding="utf-8")
    assert text.startswith(before + BEGIN_MARKER)
    assert text.endswith(END_MARKER + after)
    assert "stale table" not in text
    assert printed.strip() in text
    assert text.count("`m5.large`") == printed.count("`m5.large`") > 0


def test_write_refuses_a_document_without_markers(tmp_path: Path) -> None:
    document = tmp_path / "comparison.md"
    document.write_text("# Comparison\n", encoding="utf-8")

    # No server is given or started: the document is checked before the run.
    code = main(["--boavizta-url", "http://127.0.0.1:9", "--write", str(document)])

    assert code == 1
    assert document.read_text(encoding="utf-8") == "# Comparison\n"
