"""The API's own description, through the real handler: the OpenAPI document lists every route of docs/api.md,
and is served to signed-in callers only (the page's API reference draws it; tests/e2e/test_web.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.runtime import Runtime, use_runtime
from carbonmeter.settings import Settings
from devtools.aws.resources import create_resources
from tests.support.api import get

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROUTES = {
    "/api/v1/connections",
    "/api/v1/connections/{connection_id}",
    "/api/v1/connections/{connection_id}/footprint",
    "/api/v1/connections/{connection_id}/breakdown",
    "/api/v1/connections/{connection_id}/top",
    "/api/v1/connections/{connection_id}/status",
    "/api/v1/connections/{connection_id}/cost",
    "/api/v1/connections/{connection_id}/anomalies",
    "/api/v1/connections/{connection_id}/recommendations",
    "/api/v1/connections/{connection_id}/reconciliation",
    "/api/v1/connections/{connection_id}/export",
}


@pytest.fixture
def deployed(aws_credentials):
    with mock_aws():
        clients = ClientFactory(settings=Settings())
        settings = create_resources(clients, clients.settings)
        with use_runtime(Runtime(settings=settings, clients=ClientFactory(settings=settings))):
            yield


def test_the_openapi_document_lists_every_route_of_the_contract(deployed):
    answer = get("/api/v1/openapi.json", groups=None)
    assert answer.status == 200
    document = answer.json()
    assert set(document["paths"]) == ROUTES
    assert all(set(operations) == {"get"} for operations in document["paths"].values())
    # And docs/api.md's table names the same routes
    documented = {
        "/api/v1" + re.sub(r"\{id\}", "{connection_id}", path.split("?")[0])
        for path in re.findall(r"^\| GET \| `([^`]+)` \|", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert documented == ROUTES


def test_the_document_gives_the_enumerated_parameters_their_values(deployed):
    document = get("/api/v1/openapi.json").json()
    footprint = document["paths"]["/api/v1/connections/{connection_id}/footprint"]["get"]
    parameters = {parameter["name"]: parameter for parameter in footprint["parameters"]}
    assert set(parameters) == {"connection_id", "start", "end", "granularity", "group_by"}
    assert parameters["start"]["required"] is True
    schemas = document["components"]["schemas"]
    assert set(schemas["Granularity"]["enum"]) == {"hour", "day", "month"}
    assert {"service", "region", "resource"} <= set(schemas["GroupBy"]["enum"])
    export = document["paths"]["/api/v1/connections/{connection_id}/export"]["get"]
    assert "format" in {parameter["name"] for parameter in export["parameters"]}
    assert set(schemas["ExportFormat"]["enum"]) == {"csv", "json"}
    # And the document says the API takes the ID token as a bearer token
    assert document["components"]["securitySchemes"]["cognito"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "an ID token",
    }
    assert document["security"] == [{"cognito": []}]


def test_the_document_is_served_to_signed_in_callers_only(deployed):
    refused = get("/api/v1/openapi.json", signed_in=False)
    assert refused.status == 401
    assert "footprint" not in refused.body


def test_powertools_own_swagger_page_is_not_served(deployed):
    # Its inline script would be refused by the page's CSP: the page's API reference draws the document instead.
    assert get("/api/v1/swagger").status == 404
