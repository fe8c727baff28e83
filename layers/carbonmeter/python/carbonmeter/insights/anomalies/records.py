"""What anomaly detection stores: each calculated hour's check of its series, and each anomaly found."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field

from carbonmeter.insights.anomalies.detection import Direction, Kind, Method, Score
from carbonmeter.models import HOUR, Service, hour_key


class SeriesCheck(BaseModel):
    """One series (region x service) in one hour: its figures, and their scores once a baseline exists."""

    model_config = ConfigDict(frozen=True)

    region: str
    service: Service
    kgco2e: float
    resources: int
    emissions: Score | None = None
    count: Score | None = None

    def figure(self, kind: Kind) -> float:
        return self.kgco2e if kind is Kind.EMISSIONS else float(self.resources)

    def scored(self, kind: Kind) -> Score | None:
        return self.emissions if kind is Kind.EMISSIONS else self.count


class HourCheck(BaseModel):
    """A connection-hour's series as the detector saw them: the history later hours are judged against."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    hour: datetime
    series: tuple[SeriesCheck, ...] = ()

    def of(self, region: str, service: str) -> SeriesCheck | None:
        return next((s for s in self.series if s.region == region and s.service == service), None)


class AlertState(StrEnum):
    PENDING = "pending"  # to be published
    SENT = "sent"
    QUIET = "quiet"  # within the quiet period of an earlier alert of the same series, kind and direction
    UNSENT = "unsent"  # no topic configured (a local or trial deployment)


class HourFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    expected: float
    observed: float
    z: float


class Contributor(BaseModel):
    """One of the series' largest resources in the anomaly's first persistent hour."""

    model_config = ConfigDict(frozen=True)

    resource_id: str
    resource_type: str
    kgco2e: float


class Anomaly(BaseModel):
    """A run of anomalous hours of one series, kind and direction: [start, end), with the figures of each hour."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    region: str
    service: Service
    kind: Kind
    direction: Direction
    start: datetime
    end: datetime
    method: Method
    # Keyed by hour_key: an hour calculated again replaces its own figures, never adds them twice.
    hours: dict[str, HourFigures] = Field(default_factory=dict)
    contributors: tuple[Contributor, ...] = ()
    alert: AlertState = AlertState.UNSENT

    @computed_field  # type: ignore[prop-decorator]
    @property
    def anomaly_id(self) -> str:
        """Deterministic: the same anomaly found again (a recalculated hour) has the same id."""
        return f"{self.connection_id}/{self.region}/{self.service}/{self.kind}/{self.direction}/{hour_key(self.start)}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def expected(self) -> float:
        """Per hour, the mean of the anomaly's hours (kg CO2e, or resources)."""
        return sum(h.expected for h in self.hours.values()) / max(len(self.hours), 1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def observed(self) -> float:
        return sum(h.observed for h in self.hours.values()) / max(len(self.hours), 1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def excess(self) -> float:
        """Observed minus expected over the anomaly's hours: kg CO2e more (or, negative, less) than expected."""
        return sum(h.observed - h.expected for h in self.hours.values())

    def extended(self, hours: dict[str, HourFigures]) -> Anomaly:
        """This anomaly with ``hours`` added (or replaced), its end moved to cover them."""
        merged = {**self.hours, **hours}
        last = max(datetime.fromisoformat(key.replace("Z", "+00:00")) for key in merged)
        return self.model_copy(update={"hours": dict(sorted(merged.items())), "end": max(self.end, last + HOUR)})
