"""A windowed connection's health through the HTTP API's use case (moto): only the hours of settled windows count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from carbonmeter import tenancy
from carbonmeter.aws import ClientFactory
from carbonmeter.monitoring import monthly_usd
from carbonmeter.settings import Settings
from carbonmeter.store import StatusStore
from carbonmeter.tenancy import Viewer
from devtools.aws.resources import create_resources
from tests.support.api import ACME, store_connections, tenant_connection

# 10:20: the hours up to 10:00 have settled, but of 6-hour windows only 00-06 has.
NOW = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 30, tzinfo=UTC)


def test_a_6_hour_connection_collected_to_its_last_settled_window_misses_no_hour(aws_credentials):
    with mock_aws():
        clients = ClientFactory(settings=Settings())
        settings = create_resources(clients, clients.settings)
        clients = ClientFactory(settings=settings)
        # Given a 6-hour connection registered at midnight whose window 00-06 is stored
        connection = tenant_connection("acme-prod", ACME, MIDNIGHT).model_copy(update={"window_hours": 6})
        store_connections(clients, settings, [connection])
        statuses = StatusStore(clients, settings.usage_table)
        for hour in range(6):
            statuses.record("acme-prod", MIDNIGHT + timedelta(hours=hour), ["us-east-1/ec2"], {}, {})
        # When its tenant's user asks for its health at 10:20
        found = tenancy.connection_status(clients, settings, Viewer(tenants=frozenset({ACME})), "acme-prod", NOW)
    # Then the six hours of its settled window are looked after, none missing (06:00-10:00 wait for their window)
    assert (found.hours_in_lookback, found.hours_missing) == (6, 0)


def test_a_connections_monitoring_cost_is_its_windows_and_billed_to_the_customer(aws_credentials):
    with mock_aws():
        clients = ClientFactory(settings=Settings())
        settings = create_resources(clients, clients.settings)
        clients = ClientFactory(settings=settings)
        # Given two connections whose last complete collections requested 1,904 metrics, one hourly, one every 6 h
        hourly = tenant_connection("acme-prod", ACME, MIDNIGHT).model_copy(update={"metrics_per_collection": 1904})
        six = hourly.model_copy(update={"connection_id": "acme-six", "window_hours": 6})
        store_connections(clients, settings, [hourly, six])
        # When their tenant's user lists them
        listed = tenancy.visible_connections(clients, settings, Viewer(tenants=frozenset({ACME})), NOW)
    found = {connection.connection_id: connection.monitoring for connection in listed.connections}
    # Then each costs what `connections list` says, the 6-hour one a sixth of the hourly one, on the customer's bill
    assert found["acme-prod"].usd_per_month == monthly_usd(1904, 1)
    assert found["acme-six"].usd_per_month == monthly_usd(1904, 6)
    assert found["acme-prod"].usd_per_month == pytest.approx(found["acme-six"].usd_per_month * 6)
    assert (found["acme-six"].window_hours, found["acme-six"].billed_to) == (6, "customer's account")
