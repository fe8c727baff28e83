"""What monitoring a connection costs: the GetMetricData charges its collections run up each month.

CloudWatch bills GetMetricData per metric requested (up to five statistics of one metric in one request count once),
whatever the number of datapoints. The calls are made with the connection's role, so the charge lands in the
customer's account, not CarbonMeter's. A collection requests about the same metrics whatever its window (one query
per metric over the window), so a month costs the metrics of one collection times the collections of a month.
The prices are data (``data/cloudwatch-prices.json``, sources beside it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from carbonmeter.collection_windows import collections_per_month

PRICES_FILE = Path(__file__).with_name("data") / "cloudwatch-prices.json"
# Who pays: the customer's account, whose role makes the calls.
BILLED_TO = "customer's account"


@dataclass(frozen=True)
class CloudWatchPrices:
    usd_per_1000_metrics: float
    hours_per_month: float
    region: str
    as_of: str

    @property
    def usd_per_metric(self) -> float:
        return self.usd_per_1000_metrics / 1000


@cache
def prices() -> CloudWatchPrices:
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    return CloudWatchPrices(
        usd_per_1000_metrics=float(data["getmetricdata_usd_per_1000_metrics"]),
        hours_per_month=float(data["hours_per_month"]),
        region=str(data["region"]),
        as_of=str(data["prices_as_of"]),
    )


def metrics_usd(metrics_requested: int) -> float:
    """USD GetMetricData bills for ``metrics_requested`` metrics."""
    return metrics_requested * prices().usd_per_metric


def metrics_per_month(metrics_per_collection: int, window_hours: int) -> float:
    """Metrics a connection requests in a month at ``window_hours``."""
    return metrics_per_collection * collections_per_month(window_hours, prices().hours_per_month)


def monthly_usd(metrics_per_collection: int, window_hours: int) -> float:
    """USD a month of GetMetricData for a connection whose collections request ``metrics_per_collection`` metrics."""
    return metrics_per_month(metrics_per_collection, window_hours) * prices().usd_per_metric


@dataclass(frozen=True)
class MonitoringCost:
    """A connection's monthly monitoring cost, as ``connections list`` and the report show it."""

    window_hours: int
    # Of its last complete collection; None until it has one.
    metrics_per_collection: int | None

    @property
    def usd_per_month(self) -> float | None:
        if self.metrics_per_collection is None:
            return None
        return monthly_usd(self.metrics_per_collection, self.window_hours)

    def document(self) -> dict[str, object]:
        """The same as JSON: ``usd_per_month`` is null until a first complete collection."""
        return {
            "window_hours": self.window_hours,
            "metrics_per_collection": self.metrics_per_collection,
            "usd_per_month": self.usd_per_month,
            "billed_to": BILLED_TO,
        }

    def line(self) -> str:
        """One line: the cost, its basis and who pays it."""
        window = f"a {self.window_hours}-hour collection window"
        if self.usd_per_month is None:
            return f"monitoring cost: not known until its first complete collection ({window})"
        return (
            f"monitoring cost: USD {self.usd_per_month:.2f} a month of CloudWatch GetMetricData, billed to the "
            f"{BILLED_TO} (its role makes the calls): {self.metrics_per_collection:,} metrics a collection at {window}"
        )
