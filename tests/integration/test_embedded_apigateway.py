"""The embedded AWS pages API Gateway's API listings as API Gateway does (moto answers every API at once)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.services import apigateway
from devtools.aws.apigateway import api_listings_paged
from devtools.aws.server import embedded_aws

REGION = "eu-west-1"


@pytest.fixture
def thirty_rest_apis_and_five_http_apis():
    with embedded_aws(REGION):
        for index in range(30):
            boto3.client("apigateway").create_rest_api(name=f"rest-{index:02d}")
        for index in range(5):
            boto3.client("apigatewayv2").create_api(Name=f"http-{index}", ProtocolType="HTTP")
        yield


@pytest.mark.usefixtures("thirty_rest_apis_and_five_http_apis")
def test_get_rest_apis_answers_25_a_page_unless_asked_and_refuses_more_than_500():
    client = boto3.client("apigateway")

    first = client.get_rest_apis()
    assert len(first["items"]) == 25
    rest = client.get_rest_apis(position=first["position"])
    assert len(rest["items"]) == 5
    assert "position" not in rest
    names = [api["name"] for api in (*first["items"], *rest["items"])]
    assert names == [f"rest-{index:02d}" for index in range(30)]

    assert len(client.get_rest_apis(limit=500)["items"]) == 30
    with pytest.raises(ClientError, match=r"BadRequestException.*less than or equal to 500"):
        client.get_rest_apis(limit=501)


@pytest.mark.usefixtures("thirty_rest_apis_and_five_http_apis")
def test_get_apis_answers_max_results_a_page():
    pages = boto3.client("apigatewayv2").get_paginator("get_apis").paginate(PaginationConfig={"PageSize": 2})
    assert [len(page["Items"]) for page in pages] == [2, 2, 1]


@pytest.mark.usefixtures("thirty_rest_apis_and_five_http_apis")
def test_the_slice_finds_every_api_with_one_listing_call_each():
    counter = ApiCallCounter()

    found = apigateway.SLICE.discover(ClientFactory(counter=counter), REGION)

    assert len(found) == 35
    assert counter.calls["apigateway:GetRestApis"] == 1
    assert counter.calls["apigateway:GetApis"] == 1


def test_moto_answers_unpaged_again_once_the_block_ends():
    from moto.apigateway.responses import APIGatewayResponse
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    before = (APIGatewayResponse.get_rest_apis, ApiGatewayV2Response.get_apis)
    with api_listings_paged():
        assert APIGatewayResponse.get_rest_apis is not before[0]
    assert (APIGatewayResponse.get_rest_apis, ApiGatewayV2Response.get_apis) == before
