"""Differences beyond 2x between builtin and a reference, and their causes as far as the script can tell."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from carbonmeter.emissions.coefficients import load_coefficients
from carbonmeter.emissions.hosts import EMBODIED_FROM_MEDIAN, EMBODIED_FROM_SIBLING
from carbonmeter.services import ec2
from devtools.comparison.ccf import CCF_BURSTABLE, CCF_CPU_AVERAGES, CCF_NOT_IN_TABLE, ccf_uncorrected
from devtools.comparison.rows import (
    BOAVIZTA,
    CCF,
    EMBODIED,
    ENERGY,
    METRICS,
    OPERATIONAL,
    REFERENCES,
    Metric,
    Row,
)

# A ratio beyond these bounds (more than 2x apart either way) is listed with its cause.
RATIO_LOW, RATIO_HIGH = 0.5, 2.0


def outside_bounds(ratio: float | None) -> bool:
    return ratio is not None and not RATIO_LOW <= ratio <= RATIO_HIGH


@dataclass(frozen=True)
class Cause:
    """Why two estimates differ, in words a reader of the tables can check against the figures."""

    key: str
    text: str


BOAVIZTA_FALLBACK = Cause(
    "boavizta-fallback",
    "Boavizta does not know the type (it answers for a fuzzy match, which the provider refuses): the record "
    "carries builtin's figures, flagged `provider_fallback:boavizta:instance_type_unknown`; nothing to compare",
)
BOAVIZTA_NO_GPU_POWER = Cause(
    "boavizta-no-gpu-power",
    "Boavizta counts no GPU power in use (its GPU component carries embodied impacts only); builtin adds CCF's "
    "per-GPU watts at 50 %",
)
POWER_MODEL = Cause(
    "power-model",
    "Power models: Boavizta's TDP-derived CPU curve, all memory and +33 % for the rest of the server, no PUE; "
    "builtin's SPECpower watts per vCPU, memory above the per-chip baseline only, PUE 1.135",
)
GRID_FACTOR = Cause("grid-factor", "Grid factors from different sources (grid columns of the operational table)")
BURSTABLE_HOST = Cause(
    "burstable-host",
    "Burstable family: builtin shares the host of its general-purpose sibling (t3 -> m5, t4g -> m6g; "
    "`data/burstable-embodied-hosts.csv`, since 1.2); CCF's data give the family an 8-vCPU host carrying a whole "
    "server's embodied figure",
)
HOST_SIBLING = Cause(
    "host-sibling",
    "Type not in CarbonMeter's data: builtin shares the host of the nearest family of the same class and CPU vendor "
    "(flag `embodied_from_sibling:<family>-><sibling>`, since 1.2), which then differs from Boavizta's as under "
    "`embodied-model`",
)
HOST_MEDIAN = Cause(
    "host-median",
    "Type not in CarbonMeter's data and no family of its class and vendor: builtin charges the median family's "
    "host embodied per vCPU (flag `embodied_from_median`)",
)
GPU_HOST_SHARE = Cause(
    "gpu-host-share",
    "GPU host: builtin charges the larger of the instance's vCPU and GPU shares of the whole host (since 1.2); CCF "
    "shares by vCPUs only; Boavizta adds the instance's own GPUs to a vCPU share of the rest of its platform",
)
EMBODIED_MODEL = Cause(
    "embodied-model",
    "Embodied models: the Teads/Davy host figure over 4 years (builtin) against Boavizta's component-by-component "
    "model over 6 years",
)
CCF_TYPE_UNKNOWN = Cause(
    "ccf-not-in-table",
    "Type not in CCF's table: CCF prices its vCPUs at the AWS averages and counts no memory, GPU or embodied",
)
CCF_BURSTABLE_SCALING = Cause(
    "ccf-burstable",
    "CCF scales burstable vCPUs by baseline / 50 % even with a measured load (builtin only without one)",
)
CPU_COEFFICIENTS = Cause(
    "cpu-coefficients",
    "CPU without CCF coefficients: CCF's AWS averages (0.74 / 3.5 W) against the vendor's nearest generation",
)
CCF_UNCORRECTED = Cause(
    "ccf-uncorrected-data",
    "A CCF data value CarbonMeter corrected (`data/ccf-reference.csv`)",
)
UNEXPLAINED = Cause("unexplained", "Not recognised by the script: see the explanations after the tables")

Rule = tuple[Cause, Callable[[Row], bool]]


def _has_gpus(row: Row) -> bool:
    return bool(ec2.SLICE.details_of(row.usage).gpus)


def _burstable_host_borrowed(row: Row) -> bool:
    c = load_coefficients()
    spec = c.instance_type(row.usage.resource_type)
    return spec is not None and spec.family in c.burstable_hosts


def _builtin_flag(flag: str) -> Callable[[Row], bool]:
    return lambda row: flag in row.builtin.notes


def _builtin_flag_prefix(prefix: str) -> Callable[[Row], bool]:
    return lambda row: any(note.startswith(prefix) for note in row.builtin.notes)


def _ccf_note(note: str) -> Callable[[Row], bool]:
    return lambda row: note in row.ccf.notes


def _always(_: Row) -> bool:
    return True


# The first rule that applies names the cause; they are ordered from the most specific.
RULES: dict[tuple[str, str], tuple[Rule, ...]] = {
    (BOAVIZTA, ENERGY.key): (
        (BOAVIZTA_FALLBACK, lambda row: row.boavizta_fell_back),
        (BOAVIZTA_NO_GPU_POWER, _has_gpus),
        (POWER_MODEL, _always),
    ),
    (BOAVIZTA, EMBODIED.key): (
        (BOAVIZTA_FALLBACK, lambda row: row.boavizta_fell_back),
        (HOST_MEDIAN, _builtin_flag(EMBODIED_FROM_MEDIAN)),
        (GPU_HOST_SHARE, _has_gpus),
        (HOST_SIBLING, _builtin_flag_prefix(EMBODIED_FROM_SIBLING)),
        (EMBODIED_MODEL, _always),
    ),
    (CCF, ENERGY.key): (
        (CCF_TYPE_UNKNOWN, _ccf_note(CCF_NOT_IN_TABLE)),
        (CCF_BURSTABLE_SCALING, _ccf_note(CCF_BURSTABLE)),
        (CPU_COEFFICIENTS, _ccf_note(CCF_CPU_AVERAGES)),
    ),
    (CCF, EMBODIED.key): (
        (CCF_TYPE_UNKNOWN, _ccf_note(CCF_NOT_IN_TABLE)),
        (CCF_UNCORRECTED, _ccf_note(ccf_uncorrected("host_embodied_tco2e"))),
        (BURSTABLE_HOST, _burstable_host_borrowed),
        (GPU_HOST_SHARE, _has_gpus),
    ),
}


def causes(row: Row, metric: Metric, reference: str) -> tuple[Cause, ...]:
    """What makes builtin's ``metric`` differ from ``reference``'s for ``row``, as far as the script can tell.

    Operational emissions are energy x grid factor, so their causes are energy's and, when the grid factors are
    themselves more than 2x apart, the grid's.
    """
    if metric is OPERATIONAL:
        energy_ratio = row.ratio(ENERGY, reference)
        found = causes(row, ENERGY, reference) if energy_ratio is None or outside_bounds(energy_ratio) else ()
        if outside_bounds(row.grid_ratio(reference)):
            found = (*found, GRID_FACTOR)
        return found or causes(row, ENERGY, reference)
    for cause, applies in RULES[(reference, metric.key)]:
        if applies(row):
            return (cause,)
    return (UNEXPLAINED,)


@dataclass(frozen=True)
class Finding:
    """A ratio outside 0.5-2x, or a figure the reference could not give, with its causes."""

    row: Row
    metric: Metric
    reference: str
    ratio: float | None
    causes: tuple[Cause, ...]


def findings(rows: Sequence[Row]) -> list[Finding]:
    """Every ratio outside ``RATIO_LOW``-``RATIO_HIGH`` and every missing one, row by row."""
    found = []
    # Reference by reference, so that the causes of each come together when grouped in order of appearance.
    for reference in REFERENCES:
        for row in rows:
            for metric in METRICS:
                ratio = row.ratio(metric, reference)
                if ratio is None or outside_bounds(ratio):
                    found.append(Finding(row, metric, reference, ratio, causes(row, metric, reference)))
    return found
