"""The formulas of the methodology, as pure functions of numbers (no data look-ups, no AWS).

Derivations, units and sources are in ``docs/methodology.md``. Every energy function returns kWh at the
facility meter, i.e. already multiplied by the PUE it is given.
"""

from __future__ import annotations

METHODOLOGY_VERSION = "ccf-corrected-1.3"

BYTES_PER_GB = 1e9
GB_PER_TB = 1000.0
WH_PER_KWH = 1000.0
KG_PER_TONNE = 1000.0
MS_PER_HOUR = 3_600_000.0


def average_watts(min_watts: float, max_watts: float, utilisation_pct: float) -> float:
    """Linear interpolation between idle and full-load power at ``utilisation_pct`` (0-100)."""
    return min_watts + utilisation_pct / 100.0 * (max_watts - min_watts)


def compute_kwh(
    min_watts: float,
    max_watts: float,
    utilisation_pct: float,
    vcpu_hours: float,
    pue: float,
    replication_factor: float = 1.0,
) -> float:
    """Energy of ``vcpu_hours`` (or GPU-hours) of processors at ``utilisation_pct``."""
    watts = average_watts(min_watts, max_watts, utilisation_pct)
    return watts * vcpu_hours / WH_PER_KWH * pue * replication_factor


def excess_memory_gib_hours(
    instance_memory_gib: float,
    host_memory_gib: float,
    chips: int,
    memory_gib_per_chip: float,
    hours: float,
) -> float:
    """GB-hours of an instance's memory that lie above the host's per-chip baseline (CCF's memory rule).

    The baseline memory is already inside the processors' SPECpower watts; only the excess of the host is
    counted, shared out to the instance by its fraction of host memory.
    """
    if host_memory_gib <= 0 or instance_memory_gib <= 0:
        return 0.0
    excess_per_host = host_memory_gib / chips - memory_gib_per_chip
    if excess_per_host <= 0:
        return 0.0
    return excess_per_host / (host_memory_gib / instance_memory_gib) * hours


def excess_memory_gib_hours_by_density(
    memory_gib_hours: float,
    vcpu_hours: float,
    vcpus_per_chip: float,
    memory_gib_per_chip: float,
) -> float:
    """The same rule when the host is unknown: assume a host whose chips hold ``vcpus_per_chip`` vCPUs each
    at the workload's own memory-per-vCPU ratio. The excess then reduces to memory minus the baseline share
    of the vCPUs used: ``max(0, GB-h - baseline_per_chip x vCPU-h / vcpus_per_chip)``.
    """
    return max(0.0, memory_gib_hours - memory_gib_per_chip * vcpu_hours / vcpus_per_chip)


def memory_kwh(gib_hours: float, kwh_per_gib_hour: float, pue: float, replication_factor: float = 1.0) -> float:
    return gib_hours * kwh_per_gib_hour * pue * replication_factor


def storage_kwh(
    storage_gb: float,
    hours: float,
    wh_per_tb_hour: float,
    replication_factor: float,
    pue: float,
) -> float:
    """Energy of holding ``storage_gb`` (10^9 bytes) for ``hours``, with every replica counted."""
    tb_hours = storage_gb / GB_PER_TB * hours
    return tb_hours * wh_per_tb_hour / WH_PER_KWH * replication_factor * pue


def network_kwh(bytes_out: float, kwh_per_gb: float, pue: float) -> float:
    return bytes_out / BYTES_PER_GB * kwh_per_gb * pue


def lambda_vcpu_hours(duration_ms: float, memory_mb: float, mb_per_vcpu: float) -> float:
    """vCPU-hours of Lambda execution: memory buys CPU in proportion, ``mb_per_vcpu`` MB per vCPU."""
    return duration_ms / MS_PER_HOUR * memory_mb / mb_per_vcpu


def host_share(vcpus: float, host_vcpus: float, gpus: float = 0.0, host_gpus: float = 0.0) -> float:
    """The instance's share of its host: the larger of its vCPU and GPU shares, at most the whole host.

    On a GPU host the GPUs usually run out first (g5.xlarge: 1 of 8 GPUs but 4 of 192 vCPUs); sharing by vCPUs
    alone would let eight such instances fill the host yet carry a sixth of it. With the larger share, the
    instances filling a host always carry at least the whole host. Without GPUs it is CCF's vCPU share.
    """
    if host_vcpus <= 0:
        return 0.0
    gpu_share = gpus / host_gpus if host_gpus > 0 else 0.0
    return min(1.0, max(vcpus / host_vcpus, gpu_share))


def embodied_kgco2e(
    host_embodied_tco2e: float,
    hours: float,
    server_life_hours: float,
    vcpus: float,
    host_vcpus: float,
    gpus: float = 0.0,
    host_gpus: float = 0.0,
) -> float:
    """Share of the host's manufacturing emissions: time share of its life x the instance's share of the host.

    CCF divides ``hours`` by the vCPU count before this step; that is a defect and is not repeated here.
    """
    if server_life_hours <= 0:
        return 0.0
    share = host_share(vcpus, host_vcpus, gpus, host_gpus)
    return host_embodied_tco2e * KG_PER_TONNE * hours / server_life_hours * share


def operational_co2e(kwh: float, factor_per_kwh: float) -> float:
    """Emissions of ``kwh`` at a grid factor; the result is in the factor's mass unit (t or kg)."""
    return kwh * factor_per_kwh


def burstable_vcpus(vcpus: float, baseline_pct: float, reference_pct: float) -> float:
    """CCF's scaling of a burstable type's vCPUs to the share it sustains at its baseline."""
    return vcpus * baseline_pct / reference_pct


def clamp_pct(value: float) -> float:
    return min(100.0, max(0.0, value))
