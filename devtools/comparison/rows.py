"""The three estimates side by side: one row per case, with builtin's figures over each reference's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from carbonmeter.aws import ClientFactory
from carbonmeter.emissions.providers import FALLBACK_FLAG_PREFIX, BoaviztaProvider, EmissionsProvider, provider_for
from carbonmeter.models import UsageRecord
from carbonmeter.settings import Settings
from devtools.comparison.cases import Case, usage_records
from devtools.comparison.ccf import ccf_figures
from devtools.comparison.figures import Figures

# Boavizta's server answers in well under a second; a cold start of its scientific stack can take longer.
BOAVIZTA_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Row:
    """One case with its usage record and the three estimates."""

    number: int
    case: Case
    usage: UsageRecord
    builtin: Figures
    boavizta: Figures
    ccf: Figures

    @property
    def boavizta_fell_back(self) -> bool:
        """Boavizta gave no figures (unknown type, region or failure): the record carries builtin's."""
        return any(note.startswith(FALLBACK_FLAG_PREFIX) for note in self.boavizta.notes)

    def reference(self, name: str) -> Figures:
        return self.boavizta if name == BOAVIZTA else self.ccf

    def ratio(self, metric: Metric, reference: str) -> float | None:
        """builtin / reference for ``metric``; None when the reference has no figure of its own to compare."""
        if reference == BOAVIZTA and self.boavizta_fell_back:
            return None
        theirs = metric.value(self.reference(reference))
        return metric.value(self.builtin) / theirs if theirs > 0 else None

    def grid_ratio(self, reference: str) -> float:
        return self.builtin.grid_kgco2e_per_kwh / self.reference(reference).grid_kgco2e_per_kwh


@dataclass(frozen=True)
class Metric:
    """A figure the tables compare, and how it is shown."""

    key: str  # the attribute of ``Figures``
    name: str
    title: str
    unit: str
    scale: float  # from the records' unit to the shown one

    def value(self, figures: Figures) -> float:
        value: float = getattr(figures, self.key)
        return value


ENERGY = Metric("energy_kwh", "energy", "Energy", "kWh", 1.0)
OPERATIONAL = Metric("operational_kgco2e", "operational", "Operational emissions", "g CO2e", 1000.0)
EMBODIED = Metric("embodied_kgco2e", "embodied", "Embodied emissions", "g CO2e", 1000.0)
METRICS = (ENERGY, OPERATIONAL, EMBODIED)
BOAVIZTA, CCF = "Boavizta", "CCF"
REFERENCES = (BOAVIZTA, CCF)


@dataclass(frozen=True)
class Run:
    """The rows and what produced them."""

    rows: tuple[Row, ...]
    boavizta_version: str
    date: str


def compare(cases: Sequence[Case], boavizta_url: str, say: Callable[[str], None] = lambda _: None) -> Run:
    """Estimate every case with builtin, the Boavizta server at ``boavizta_url`` and CCF's formula."""
    say(f"describing {len({c.instance_type for c in cases})} instance types and launching them in moto's EC2")
    usages = usage_records(cases)
    builtin = _provider(Settings())
    boavizta = _provider(
        Settings(
            emissions_provider="boavizta",
            boavizta_url=boavizta_url,
            provider_timeout_seconds=BOAVIZTA_TIMEOUT_SECONDS,
        )
    )
    rows, versions = [], set()
    for number, (case, usage) in enumerate(zip(cases, usages, strict=True), start=1):
        say(f"[{number}/{len(cases)}] {case.instance_type} in {case.region} at {case.load_pct:g} %")
        (builtin_record,) = builtin.estimate([usage])
        (boavizta_record,) = boavizta.estimate([usage])
        if boavizta_record.provider == BoaviztaProvider.name:  # not a fallback: the server's version
            versions.add(boavizta_record.methodology_version)
        figures = (Figures.of(builtin_record), Figures.of(boavizta_record), ccf_figures(usage))
        rows.append(Row(number, case, usage, *figures))
    return Run(tuple(rows), ", ".join(sorted(versions)) or "unknown", datetime.now(UTC).date().isoformat())


def _provider(settings: Settings) -> EmissionsProvider:
    # The same factory the calculator uses, so that the figures are what a deployment would store.
    return provider_for(settings, ClientFactory(settings=settings))
