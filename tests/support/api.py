"""The HTTP API's tests: two tenants' connections with stored figures, and requests through the real handler."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from carbonmeter import periods
from carbonmeter.aws import ClientFactory
from carbonmeter.emissions.estimate import rollup
from carbonmeter.models import HOUR, Connection, EmissionRecord, Range, Service, hours_between
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.settings import Settings
from carbonmeter.store import ConnectionStore, EmissionStore, StatusStore
from devtools.aws.lambda_events import LambdaContext, http_api_event
from devtools.aws.resources import create_resources
from functions.api.handler import handler
from tests.support.offline import OFFLINE_ENV

ACME, GLOBEX = "acme", "globex"
ACCOUNT_ID = "123456789012"
# Two days of stored figures, well in the past of any test run.
START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(days=2)
CONTEXT = LambdaContext(function_name="carbonmeter-api")


def tenant_connection(connection_id: str, tenant: str | None, created_at: datetime | None = None) -> Connection:
    return Connection(
        connection_id=connection_id,
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/Role-{connection_id}",
        external_id=f"external-id-of-{connection_id}",
        regions=("us-east-1", "eu-west-1"),
        tenant=tenant,
        created_at=created_at,
    )


@contextmanager
def api_deployment(now: datetime) -> Iterator[ClientFactory]:
    """CarbonMeter's tables on an offline ``mock_aws``, acme-prod (tenant acme) with two days of figures beside g
    (tenant globex), and the runtime's clock at ``now``: the store of a module whose tests only read it."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for name, value in OFFLINE_ENV.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        clients = ClientFactory(settings=Settings())
        settings = create_resources(clients, clients.settings)
        clients = ClientFactory(settings=settings)
        store_connections(clients, settings, [tenant_connection("acme-prod", ACME), tenant_connection("g", GLOBEX)])
        store_figures(clients, settings, "acme-prod")
        with use_runtime(Runtime(settings=settings, clients=clients, clock=lambda: now)):
            yield clients


def store_connections(clients: ClientFactory, settings: Settings, connections: Iterable[Connection]) -> None:
    store = ConnectionStore(clients, settings.connections_table)
    for connection in connections:
        store.put(connection)


def record(
    connection_id: str, hour: datetime, region: str, service: Service, resource: str, scale: float
) -> EmissionRecord:
    """One resource-hour: ``scale`` kWh [0.5, 2] x scale, 0.4 kg [0.2, 0.9] x scale operational, and embodied."""
    return EmissionRecord(
        connection_id=connection_id,
        account_id=ACCOUNT_ID,
        hour=hour,
        region=region,
        service=service,
        resource_id=resource,
        resource_type="m5.large" if service is Service.EC2 else "gp3",
        hours=1.0,
        compute_kwh=0.75 * scale,
        memory_kwh=0.25 * scale,
        storage_kwh=0.0,
        network_kwh=0.0,
        operational_kgco2e=0.4 * scale,
        embodied_kgco2e=0.1 * scale,
        grid_kgco2e_per_kwh=0.4,
        methodology_version="test",
        energy_kwh_range=Range(low=0.5 * scale, high=2.0 * scale),
        operational_kgco2e_range=Range(low=0.2 * scale, high=0.9 * scale),
        embodied_kgco2e_range=Range(low=0.05 * scale, high=0.2 * scale),
    )


def store_figures(
    clients: ClientFactory, settings: Settings, connection_id: str, start: datetime = START, end: datetime = END
) -> None:
    """As the calculator stores them: each hour's records and roll-ups, its day and month, its status complete.

    Three resources in two regions and two services, their figures changing with the hour of the day.
    """
    emissions = EmissionStore(clients, settings.emissions_table)
    statuses = StatusStore(clients, settings.usage_table)
    for hour in hours_between(start, end):
        scale = 1.0 + hour.hour / 24
        records = [
            record(connection_id, hour, "us-east-1", Service.EC2, "i-1", scale),
            record(connection_id, hour, "us-east-1", Service.EBS, "vol-1", scale / 4),
            record(connection_id, hour, "eu-west-1", Service.EC2, "i-2", scale * 2),
        ]
        emissions.replace_hour(connection_id, hour, records, rollup(records))
        periods.refresh_periods(emissions, connection_id, hour)
        scopes = ["us-east-1/ec2", "us-east-1/ebs", "eu-west-1/ec2"]
        statuses.record(connection_id, hour, scopes, {}, {})
        statuses.mark_calculated(connection_id, hour)


class TableReads:
    """A botocore hook (``ClientFactory(hooks=[reads.hook])``) keeping every DynamoDB request made to ``table``."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.requests: list[tuple[str, dict[str, Any]]] = []

    @property
    def hook(self) -> tuple[str, Any]:
        return ("before-call.dynamodb", self._seen)

    def _seen(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params.get("body") or "{}")
        if body.get("TableName") == self.table:
            self.requests.append((model.name, body))

    def attributes(self, body: dict[str, Any]) -> set[str] | None:
        """The attributes a request reads, None when it reads whole items (no projection)."""
        if "ProjectionExpression" not in body:
            return None
        names = body.get("ExpressionAttributeNames", {})
        return {names.get(part.strip(), part.strip()) for part in body["ProjectionExpression"].split(",")}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def get(
    path: str,
    query: Mapping[str, str] | None = None,
    *,
    groups: Sequence[str] | None = (ACME,),
    signed_in: bool = True,
) -> Answer:
    """GET ``path`` through the API function as API Gateway delivers it, for a user of ``groups``."""
    claims: dict[str, Any] | None = None
    if signed_in:
        claims = {"sub": "user-1", "token_use": "id", "cognito:username": "user-1"}
        if groups is not None:
            claims["cognito:groups"] = list(groups)
    answer = handler(http_api_event("GET", path, query=dict(query or {}), claims=claims), CONTEXT)
    return Answer(answer["statusCode"], answer.get("headers") or {}, answer.get("body") or "")


def window(start: datetime = START, end: datetime = END) -> dict[str, str]:
    return {"start": _time(start), "end": _time(end)}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "ACME",
    "END",
    "GLOBEX",
    "HOUR",
    "START",
    "Answer",
    "TableReads",
    "get",
    "record",
    "store_connections",
    "store_figures",
    "tenant_connection",
    "window",
]
