"""CloudFront: every distribution of the account, with the bytes its edge locations delivered and received.

CloudFront is global: ListDistributions answers for the whole account, and its metrics live in us-east-1 under
the dimensions ``DistributionId`` and ``Region=Global``. The slice is ``is_global``: the collector runs it once
per connection-hour (``GLOBAL_API_REGION``), and its records carry the region ``global``.

What it meters is edge delivery and its network, not a data centre's servers: the hour's BytesDownloaded plus
BytesUploaded, times an energy per GB (``cloudfront-energy.csv``). No published figure is agreed on (0.001 to
0.114 kWh/GB), so the central one is a default a deployment may replace (``Settings.cloudfront_kwh_per_gb``),
the band spans the published figures, and every record is flagged with which it used. The figure is the
network part; the PUE is not applied on top of it (the published figures are whole-system energy). Embodied
emissions follow the Sustainable Web Design model's per-GB figure. Builtin only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions import methodology as m
from carbonmeter.emissions.coefficients import Coefficients, rows
from carbonmeter.emissions.parts import Parts
from carbonmeter.emissions.uncertainty import Band
from carbonmeter.models import GLOBAL_REGION, HOUR, Service, ServiceUsage, UsageRecord
from carbonmeter.services.base import HourContext, Resource, ServiceSlice

NAMESPACE = "AWS/CloudFront"
PERIOD = 3600
ENERGY_FILE = "cloudfront-energy.csv"
RESOURCE_TYPE = "distribution"
# CloudFront's metrics are published once, for the whole world, under this dimension value.
METRIC_REGION = "Global"
METRICS = ("BytesDownloaded", "BytesUploaded")

# Flags: which energy per GB shaped the figure (none is agreed on, so every record says which).
KWH_PER_GB_DEFAULT = "cloudfront_kwh_per_gb_default"
KWH_PER_GB_CONFIGURED = "cloudfront_kwh_per_gb_configured"


@dataclass(frozen=True)
class PerGb:
    """One per-GB figure of ``cloudfront-energy.csv``: its central value and the published span around it."""

    central: float
    low: float
    high: float

    def of(self, gb: float, central: float | None = None) -> Band:
        """``gb`` times the figure; ``central`` replaces the default, the span widening to hold it."""
        return Band.around(gb * (self.central if central is None else central), gb * self.low, gb * self.high)


class CloudFrontUsage(ServiceUsage):
    """A distribution-hour: the bytes its viewers downloaded and uploaded through the edge, and its price class."""

    service: Literal[Service.CLOUDFRONT] = Service.CLOUDFRONT
    bytes_downloaded: float = 0.0
    bytes_uploaded: float = 0.0
    price_class: str | None = None
    enabled: bool = True


class CloudFrontSlice(ServiceSlice[CloudFrontUsage]):
    name = Service.CLOUDFRONT
    details_type = CloudFrontUsage
    read_actions = ("cloudfront:ListDistributions",)
    providers = frozenset()
    main_part = "network"
    data_files = (ENERGY_FILE,)
    embodied_not_modelled = None
    is_global = True
    flag_meanings = MappingProxyType(
        {
            KWH_PER_GB_DEFAULT: "CloudFront energy per GB: the default (no agreed figure)",
            KWH_PER_GB_CONFIGURED: "CloudFront energy per GB: the deployment's choice",
        }
    )

    def discover(self, clients: ClientFactory, region: str) -> list[Resource]:
        pages = clients.client("cloudfront", region).get_paginator("list_distributions").paginate()
        # An account without distributions answers without ``Items``.
        return [_resource(item) for page in pages for item in page["DistributionList"].get("Items", [])]

    def metric_requests(self, resource: Resource, hour: datetime) -> list[MetricRequest]:
        dimensions = (("DistributionId", resource.resource_id), ("Region", METRIC_REGION))
        return [MetricRequest(NAMESPACE, name, dimensions, "Sum", PERIOD, hour, hour + HOUR) for name in METRICS]

    def usage(
        self,
        resource: Resource,
        metrics: Mapping[MetricRequest, Sequence[float]],
        context: HourContext,
    ) -> list[UsageRecord]:
        # An hour without a datapoint carried no traffic: CloudFront publishes nothing then.
        downloaded, uploaded = (sum(metrics.get(r, ())) for r in self.metric_requests(resource, context.hour))
        details = CloudFrontUsage(
            bytes_downloaded=downloaded,
            bytes_uploaded=uploaded,
            price_class=resource.attributes.get("price_class"),
            enabled=bool(resource.attributes.get("enabled", True)),
        )
        # The bytes are the slice's own network part; the shared inter-region figure would count them twice.
        return [self.record(resource, context, details)]

    def estimate(self, usage: UsageRecord, details: CloudFrontUsage, c: Coefficients) -> Parts:
        parts = Parts()
        gb = (details.bytes_downloaded + details.bytes_uploaded) / m.BYTES_PER_GB
        figures = energy_per_gb()
        configured = c.choices.cloudfront_kwh_per_gb
        parts.network = figures["operational_kwh_per_gb"].of(gb, configured)
        parts.flag(KWH_PER_GB_DEFAULT if configured is None else KWH_PER_GB_CONFIGURED)
        # SWD gives manufacturing as kWh-equivalent per GB, turned into CO2e at the record's (world) grid factor.
        grid_kg_per_kwh = c.grid_factor(usage.region)[0] * m.KG_PER_TONNE
        parts.embodied = figures["embodied_kwh_per_gb"].of(gb).times(grid_kg_per_kwh)
        return parts


@cache
def energy_per_gb() -> Mapping[str, PerGb]:
    """The per-GB figures of ``cloudfront-energy.csv`` by quantity, read once per process."""
    return MappingProxyType(
        {
            row["quantity"]: PerGb(float(row["central"]), float(row["low"]), float(row["high"]))
            for row in rows(ENERGY_FILE)
        }
    )


def _resource(item: Mapping[str, Any]) -> Resource:
    return Resource(
        service=Service.CLOUDFRONT,
        region=GLOBAL_REGION,
        resource_id=item["Id"],
        resource_type=RESOURCE_TYPE,
        attributes={
            "price_class": item.get("PriceClass"),
            "enabled": item.get("Enabled", True),
            "status": item.get("Status"),
        },
    )


SLICE = CloudFrontSlice()
