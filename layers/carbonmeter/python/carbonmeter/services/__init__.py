"""The AWS services CarbonMeter collects. Adding a service means adding one module here."""

from __future__ import annotations

from carbonmeter.models import Service
from carbonmeter.services import ebs, ec2, lambda_, rds, s3
from carbonmeter.services.base import HourContext, Resource, ServiceCollector

COLLECTORS: dict[Service, ServiceCollector] = {
    collector.name: collector
    for collector in (ec2.COLLECTOR, ebs.COLLECTOR, s3.COLLECTOR, rds.COLLECTOR, lambda_.COLLECTOR)
}

# Calls the collector makes whatever the service: metrics for every resource.
COMMON_READ_ACTIONS: tuple[str, ...] = ("cloudwatch:GetMetricData",)

READ_ACTIONS: tuple[str, ...] = tuple(
    sorted(set(COMMON_READ_ACTIONS).union(*(collector.read_actions for collector in COLLECTORS.values())))
)

__all__ = ["COLLECTORS", "READ_ACTIONS", "HourContext", "Resource", "ServiceCollector"]
