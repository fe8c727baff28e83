"""Every DynamoDB key CarbonMeter writes, built and parsed here and nowhere else.

Usage table:     pk ``<connection>#<hour>``, sk ``<region>#<service>#<resource id>#<resource type>`` (usage);
                 pk ``<connection>``,        sk ``status#<hour>`` (the hour's status);
                 pk ``<connection>``,        sk ``cost#<YYYY-MM-DD>`` (a day's spend, Cost Explorer);
                 pk ``<connection>``,        sk ``awscarbon#<YYYY-MM>`` (AWS's own figures of a month);
                 pk ``<connection>``,        sk ``inventory#<region>#<service>#<resource id>#<resource type>``
                 (every resource seen).
Emissions table: pk ``<connection>#<hour>``, sk ``resource#<region>#<service>#<resource id>#<resource type>``;
                 pk ``<connection>``,        sk ``rollup#<hour>#<region>#<service>``;
                 pk ``<connection>``,        sk ``top#<hour>`` (the hour's largest resources, ``carbonmeter.tops``);
                 pk ``<connection>``,        sk ``period#day#<YYYY-MM-DD>`` and ``period#month#<YYYY-MM>``;
                 pk ``<connection>``,        sk ``anomalycheck#<hour>`` (the anomaly detector's view of the hour);
                 pk ``<connection>``,        sk ``anomaly#<region>#<service>#<kind>#<direction>#<start hour>``.
Hours are ``hour_key`` strings (``2026-11-23T10:00:00Z``), which sort as the hours do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from carbonmeter.models import hour_key

STATUS_PREFIX = "status#"
RESOURCE_PREFIX = "resource#"
ROLLUP_PREFIX = "rollup#"
PERIOD_PREFIX = "period#"
TOP_PREFIX = "top#"
ANOMALY_PREFIX = "anomaly#"
ANOMALY_CHECK_PREFIX = "anomalycheck#"
INVENTORY_PREFIX = "inventory#"
_PERIOD_FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m"}


class _PerResource(Protocol):
    @property
    def region(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def resource_type(self) -> str: ...


def hour_partition(connection_id: str, hour: datetime) -> str:
    """The partition of one connection-hour's usage or emission records."""
    return f"{connection_id}#{hour_key(hour)}"


def parse_hour_partition(pk: str) -> tuple[str, str]:
    """(connection id, hour key) of an ``hour_partition``: connection ids hold no ``#``."""
    connection_id, hour = pk.split("#", 1)
    return connection_id, hour


def resource_key(record: _PerResource) -> str:
    """A resource within its connection-hour: the usage record's sort key."""
    return f"{record.region}#{record.service}#{record.resource_id}#{record.resource_type}"


def scope_prefix(scope: str) -> str:
    """The usage sort keys of one ``region/service`` scope."""
    return scope.replace("/", "#") + "#"


def services_range(region: str, services: Sequence[str]) -> tuple[str, str]:
    """The usage sort keys from the first to the last of ``services`` in ``region`` (both ends included; a
    service whose name sorts between them falls inside too). ``$`` is the character after ``#``."""
    names = sorted(services)
    return f"{region}#{names[0]}#", f"{region}#{names[-1]}$"


def emission_key(record: _PerResource) -> str:
    return RESOURCE_PREFIX + resource_key(record)


def status_key(hour: datetime) -> str:
    return f"{STATUS_PREFIX}{hour_key(hour)}"


def rollup_key(hour: datetime, region: str, service: str) -> str:
    return f"{rollup_prefix(hour)}{region}#{service}"


def rollup_prefix(hour: datetime) -> str:
    """The sort keys of one hour's roll-ups start with this."""
    return f"{ROLLUP_PREFIX}{hour_key(hour)}#"


def rollup_bound(hour: datetime) -> str:
    """A sort key that sorts with the roll-ups of ``hour``: the bounds of a range query over hours."""
    return f"{ROLLUP_PREFIX}{hour_key(hour)}"


def hour_top_key(hour: datetime) -> str:
    """An hour's top resources, beside its roll-ups; keys sort as the hours do, so a range of hours is one query."""
    return f"{TOP_PREFIX}{hour_key(hour)}"


def hour_of_connection_key(sk: str) -> str:
    """The hour key of a status, roll-up or top sort key (all sit in the connection's own partition)."""
    return sk.split("#")[1]


def period_key(granularity: str, start: datetime) -> str:
    """A day's or month's roll-up in its connection's partition; keys of one granularity sort as the periods do."""
    return f"{PERIOD_PREFIX}{granularity}#{start.strftime(_PERIOD_FORMATS[granularity])}"


COST_PREFIX = "cost#"
AWS_CARBON_PREFIX = "awscarbon#"


def cost_key(day: date) -> str:
    """A day's spend per service and region, in its connection's partition of the usage table."""
    return f"{COST_PREFIX}{day.isoformat()}"


def aws_carbon_key(month: str) -> str:
    """AWS's own carbon figures of a month (``YYYY-MM``), in its connection's partition of the usage table."""
    return f"{AWS_CARBON_PREFIX}{month}"


def anomaly_check_key(hour: datetime) -> str:
    return f"{ANOMALY_CHECK_PREFIX}{hour_key(hour)}"


def anomaly_series_prefix(region: str, service: str, kind: str, direction: str) -> str:
    """The sort keys of one series' anomalies of one kind and direction start with this; they sort by start."""
    return f"{ANOMALY_PREFIX}{region}#{service}#{kind}#{direction}#"


def anomaly_key(region: str, service: str, kind: str, direction: str, start: datetime) -> str:
    return anomaly_series_prefix(region, service, kind, direction) + hour_key(start)


def inventory_key(region: str, service: str, resource_id: str, resource_type: str) -> str:
    """A resource in its connection's inventory (the connection's own partition of the usage table); by type too, as
    an S3 bucket is one resource per storage class."""
    return f"{INVENTORY_PREFIX}{region}#{service}#{resource_id}#{resource_type}"
