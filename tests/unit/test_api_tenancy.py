"""Who may read what: the viewer of a token's groups, and the hours a connection's health counts as missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from carbonmeter.models import Connection, ConnectionSchedule, ConnectionView, HourStatus
from carbonmeter.scheduling import due_hours, lookback_hours, missing_hours
from carbonmeter.settings import Settings
from carbonmeter.tenancy import Viewer
from devtools.aws.lambda_events import http_api_event

NOW = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("claim", "tenants"),
    [
        # As API Gateway's JWT authorizer passes an array claim: one string, in brackets, spaces between
        ("[acme globex]", {"acme", "globex"}),
        ("[acme]", {"acme"}),
        ("acme", {"acme"}),
        (["acme", "globex"], {"acme", "globex"}),
        ("[]", set()),
        (None, set()),
        # A group that cannot name a tenant gives nothing rather than failing the request
        ("[acme Admins/Everyone ]", {"acme"}),
    ],
)
def test_the_viewer_reads_the_tenants_of_the_groups_claim(claim, tenants):
    assert Viewer.from_groups(claim).tenants == frozenset(tenants)


def test_a_viewer_sees_its_tenants_connections_and_never_one_without_a_tenant():
    acme = Viewer.from_groups(["acme"])
    assert acme.sees(ConnectionView(connection_id="a", tenant="acme"))
    assert not acme.sees(ConnectionView(connection_id="g", tenant="globex"))
    assert not acme.sees(ConnectionView(connection_id="o", tenant=None))
    assert not Viewer().sees(ConnectionView(connection_id="o", tenant=None))


def test_a_tenant_is_named_as_a_connection_id_is():
    def connection(tenant: str) -> Connection:
        return Connection(
            connection_id="a",
            role_arn="arn:aws:iam::123456789012:role/R",
            external_id="x" * 20,
            regions=("us-east-1",),
            tenant=tenant,
        )

    assert connection("acme-prod.eu_1").tenant == "acme-prod.eu_1"
    for bad in ("", "acme corp", "[acme]", "a" * 65, "-acme"):
        with pytest.raises(ValidationError, match="not a valid tenant name"):
            connection(bad)


def _status(hour: datetime, complete: bool) -> HourStatus:
    return HourStatus(
        connection_id="a",
        hour=hour,
        succeeded=("us-east-1/ec2",) if complete else (),
        failed={} if complete else {"us-east-1/ec2": "Throttling"},
        attempts=1,
        updated_at=NOW - timedelta(minutes=5),
    )


def test_the_hours_missing_are_the_schedulers_look_back_hours_not_complete():
    # Given a connection registered at 05:30, the 05:00 hour complete and the 09:00 hour just failed
    connection = ConnectionSchedule(connection_id="a", created_at=NOW.replace(hour=5, minute=30))
    hour = NOW.replace(minute=0)
    statuses = {
        hour.replace(hour=5): _status(hour.replace(hour=5), True),
        hour.replace(hour=9): _status(hour.replace(hour=9), False),
    }
    settings = Settings()
    # Then the look-back is the scheduler's: 05:00 to 09:00 (10:00 has not settled)
    assert lookback_hours(connection, NOW, settings) == [hour.replace(hour=h) for h in range(5, 10)]
    # And 09:00 is missing although the scheduler retries it only later
    assert missing_hours(connection, statuses, NOW, settings) == [hour.replace(hour=h) for h in range(6, 10)]
    assert hour.replace(hour=9) not in due_hours(connection, statuses, NOW, settings)


def test_the_event_builder_flattens_array_claims_as_the_authorizer_does():
    event = http_api_event("GET", "/api/v1/connections", claims={"sub": "u", "cognito:groups": ["acme", "globex"]})
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims == {"sub": "u", "cognito:groups": "[acme globex]"}
    assert "authorizer" not in http_api_event("GET", "/", claims=None)["requestContext"]
