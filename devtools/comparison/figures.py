"""What an estimate gives for one instance-hour: energy, operational and embodied emissions, the grid factor."""

from __future__ import annotations

from dataclasses import dataclass

from carbonmeter.models import EmissionRecord


@dataclass(frozen=True)
class Figures:
    """One estimator's answer for one instance-hour, and the flags or notes that shaped it."""

    energy_kwh: float
    operational_kgco2e: float
    embodied_kgco2e: float
    grid_kgco2e_per_kwh: float
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, record: EmissionRecord) -> Figures:
        return cls(
            energy_kwh=record.energy_kwh,
            operational_kgco2e=record.operational_kgco2e,
            embodied_kgco2e=record.embodied_kgco2e,
            grid_kgco2e_per_kwh=record.grid_kgco2e_per_kwh,
            notes=record.flags,
        )
