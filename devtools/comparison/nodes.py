"""Redshift and ElastiCache node types: CarbonMeter's builtin figures beside Cloud Carbon Footprint's formula.

``python -m devtools.comparison.nodes`` prints the Markdown tables of ``docs/comparison.md``'s section "Redshift
and ElastiCache nodes". Each case is one cluster-hour in us-east-1 at 50 % CPU (CCF's default, which its billing
data always uses). The builtin figures are the calculator's, from the usage record the slice would write; CCF's
are ``ccf_formula`` on what CCF's tables give a node-hour, following CCF's code where its methodology is silent:

- **Redshift** (``REDSHIFT_INSTANCE_TYPES``, which CarbonMeter's ``redshift-node-types.csv`` carries): vCPUs per
  billed node (the leader is not billed, so not counted), no processor mapping for dc2/ds2/ra3 (AWS averages
  0.74 / 3.5 W), memory above the unknown processor's per-chip baseline against the family's largest node, and
  embodied only where CCF's EC2 table lists the type (ra3.4xlarge, ra3.16xlarge). Storage is left out of both
  columns: CCF reads it from billing lines (managed storage as SSD) that a node-hour does not carry.
- **ElastiCache** (``CACHE_NODE_TYPES``): vCPUs per node at the AWS averages; CCF's memory and embodied look-ups
  split ``cache.m5.large`` at its first dot and find no family ``cache``, so they add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from carbonmeter.emissions import estimate
from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, load_coefficients
from carbonmeter.models import Service, UsageRecord
from carbonmeter.services import elasticache, redshift
from devtools.comparison.ccf import CcfConstants, CcfInputs, ccf_formula, ccf_reference
from devtools.comparison.figures import Figures

REGION = "us-east-1"
LOAD_PCT = 50.0
HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)


@dataclass(frozen=True)
class NodeCase:
    service: Service
    node_type: str
    nodes: int


CASES: tuple[NodeCase, ...] = (
    NodeCase(Service.REDSHIFT, "dc2.large", 1),
    NodeCase(Service.REDSHIFT, "dc2.8xlarge", 2),
    NodeCase(Service.REDSHIFT, "ds2.xlarge", 2),
    NodeCase(Service.REDSHIFT, "ds2.8xlarge", 4),
    NodeCase(Service.REDSHIFT, "ra3.xlplus", 2),
    NodeCase(Service.REDSHIFT, "ra3.4xlarge", 2),
    NodeCase(Service.REDSHIFT, "ra3.16xlarge", 4),
    NodeCase(Service.ELASTICACHE, "cache.m5.large", 1),
    NodeCase(Service.ELASTICACHE, "cache.r6g.large", 2),
    NodeCase(Service.ELASTICACHE, "cache.r5.4xlarge", 1),
    NodeCase(Service.ELASTICACHE, "cache.t3.medium", 2),
)


@dataclass(frozen=True)
class NodeRow:
    case: NodeCase
    builtin: Figures
    ccf: Figures


def builtin_figures(case: NodeCase) -> Figures:
    """The calculator's figures for the record the slice writes (storage left out, as CCF's node-hour has none)."""
    details: dict[str, object] = {"node_count": case.nodes, "cpu_utilization_pct": LOAD_PCT}
    if case.service == Service.ELASTICACHE:
        details["engine"] = "redis"
    record = estimate(
        UsageRecord(
            connection_id="comparison",
            account_id="123456789012",
            hour=HOUR,
            region=REGION,
            service=case.service,
            resource_id=case.node_type,
            resource_type=case.node_type,
            **details,
        )
    )
    return Figures.of(record)


def ccf_node_inputs(case: NodeCase, c: Coefficients) -> CcfInputs:
    """What CCF's tables give ``case.nodes`` node-hours of ``case.node_type``."""
    grid = ccf_reference().grid_tco2e_per_kwh(c, REGION)
    k = c.constants
    if case.service == Service.ELASTICACHE:
        vcpus = elasticache.node_vcpus()[case.node_type]
        return CcfInputs(
            hours=case.nodes,
            vcpus=vcpus,
            min_watts=k.unknown_min_watts,
            max_watts=k.unknown_max_watts,
            memory_gib_hours=0.0,
            grid_tco2e_per_kwh=grid,
            notes=("CCF: AWS averages, no memory, no embodied",),
        )
    node = redshift.node_types()[case.node_type]
    family = case.node_type.split(".", 1)[0]
    largest = max(
        (row for name, row in redshift.node_types().items() if name.startswith(f"{family}.")),
        key=lambda row: row.memory_gib,
    )
    memory = m.excess_memory_gib_hours(
        node.memory_gib,
        largest.memory_gib,
        max(1, -(-int(largest.vcpus) // int(k.vcpus_per_chip))),
        k.memory_gib_per_chip_fallback,
        case.nodes,
    )
    spec, _ = ccf_reference().instance_type(c, case.node_type)
    return CcfInputs(
        hours=case.nodes,
        vcpus=node.vcpus,
        min_watts=k.unknown_min_watts,
        max_watts=k.unknown_max_watts,
        memory_gib_hours=memory,
        host_embodied_tco2e=spec.host_embodied_tco2e if spec else 0.0,
        instance_vcpus=node.vcpus,
        host_vcpus=spec.host_vcpus if spec else 0.0,
        grid_tco2e_per_kwh=grid,
        notes=("CCF: AWS averages, billed nodes only" + ("" if spec else ", no embodied"),),
    )


def compare_nodes(cases: Sequence[NodeCase] = CASES, c: Coefficients | None = None) -> list[NodeRow]:
    c = c or load_coefficients()
    return [
        NodeRow(case, builtin_figures(case), ccf_formula(ccf_node_inputs(case, c), LOAD_PCT, CcfConstants.of(c)))
        for case in cases
    ]


def _ratio(ours: float, theirs: float) -> str:
    if theirs == 0:
        return "n/a"
    ratio = ours / theirs
    text = f"{ratio:.2f}"
    return text if 0.5 <= ratio <= 2 else f"**{text}**"


def render_nodes(rows: Sequence[NodeRow]) -> str:
    lines = [
        "| service | node type | nodes | builtin kWh | CCF kWh | builtin / CCF | builtin embodied g | CCF embodied g"
        " | builtin / CCF | builtin flags |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        b, f, case = row.builtin, row.ccf, row.case
        flags = "<br>".join(f"`{flag}`" for flag in b.notes)
        energy = f"{b.energy_kwh:.4g} | {f.energy_kwh:.4g} | {_ratio(b.energy_kwh, f.energy_kwh)}"
        embodied = f"{b.embodied_kgco2e * 1000:.3g} | {f.embodied_kgco2e * 1000:.3g}"
        embodied += f" | {_ratio(b.embodied_kgco2e, f.embodied_kgco2e)}"
        lines.append(f"| {case.service} | `{case.node_type}` | {case.nodes} | {energy} | {embodied} | {flags} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render_nodes(compare_nodes()), end="")


if __name__ == "__main__":
    main()
