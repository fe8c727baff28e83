"""The embedded AWS answers the Redshift Serverless calls CarbonMeter makes as AWS would (moto has no backend)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from moto.core.botocore_stubber import BotocoreStubber
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from devtools.aws.redshift_serverless import redshift_serverless
from devtools.aws.server import embedded_aws


@pytest.fixture(params=["embedded server", "mock_aws"])
def cloud(request: pytest.FixtureRequest) -> Iterator[None]:
    """Both places the emulator answers: over HTTP in the embedded server, and in-process under ``mock_aws``."""
    if request.param == "embedded server":
        with embedded_aws("eu-west-1"):
            yield
    else:
        request.getfixturevalue("aws")
        yield


def serverless(region: str = "eu-west-1", **kwargs: object):
    return boto3.client("redshift-serverless", region_name=region, **kwargs)


def test_workgroups_are_created_in_a_namespace_and_listed_page_by_page(cloud):
    client = serverless()
    client.create_namespace(namespaceName="sales")
    for name in ("gamma", "alpha", "beta"):
        client.create_workgroup(workgroupName=name, namespaceName="sales", baseCapacity=32)

    pages = list(client.get_paginator("list_workgroups").paginate(PaginationConfig={"PageSize": 2}))

    assert [[w["workgroupName"] for w in page["workgroups"]] for page in pages] == [["alpha", "beta"], ["gamma"]]
    (alpha, *_) = pages[0]["workgroups"]
    assert (alpha["namespaceName"], alpha["baseCapacity"], alpha["status"]) == ("sales", 32, "AVAILABLE")
    assert alpha["workgroupArn"] == "arn:aws:redshift-serverless:eu-west-1:123456789012:workgroup/alpha"


def test_it_refuses_what_aws_refuses(cloud):
    client = serverless()
    client.create_namespace(namespaceName="sales")
    client.create_workgroup(workgroupName="alpha", namespaceName="sales")

    with pytest.raises(client.exceptions.ConflictException):
        client.create_workgroup(workgroupName="alpha", namespaceName="sales")
    with pytest.raises(client.exceptions.ConflictException):
        client.create_namespace(namespaceName="sales")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_workgroup(workgroupName="beta", namespaceName="nowhere")
    # A page larger than AWS's 100, sent past botocore's own check
    unchecked = serverless(config=Config(parameter_validation=False))
    with pytest.raises(unchecked.exceptions.ValidationException):
        unchecked.list_workgroups(maxResults=101)
    # An operation the emulator does not implement says so instead of answering empty
    with pytest.raises(client.exceptions.ClientError, match="UnknownOperationException"):
        client.list_namespaces()


def test_each_region_and_account_has_its_own(cloud):
    client = serverless()
    client.create_namespace(namespaceName="sales")
    client.create_workgroup(workgroupName="alpha", namespaceName="sales")
    other = boto3.client("sts").assume_role(RoleArn="arn:aws:iam::210987654321:role/reader", RoleSessionName="test")
    keys = other["Credentials"]

    in_other_account = serverless(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )

    assert serverless("us-east-1").list_workgroups()["workgroups"] == []
    assert in_other_account.list_workgroups()["workgroups"] == []
    assert [w["workgroupName"] for w in client.list_workgroups()["workgroups"]] == ["alpha"]


def test_every_other_service_is_still_moto_and_nothing_is_left_patched(cloud):
    boto3.client("redshift", region_name="eu-west-1").create_cluster(
        ClusterIdentifier="reports",
        NodeType="dc2.large",
        ClusterType="single-node",
        MasterUsername="admin",
        MasterUserPassword="Not-a-secret-1",
    )
    clusters = boto3.client("redshift", region_name="eu-west-1").describe_clusters()["Clusters"]
    assert [cluster["ClusterIdentifier"] for cluster in clusters] == ["reports"]


def test_leaving_the_context_restores_moto():
    dispatch, intercept = DomainDispatcherApplication.__call__, BotocoreStubber.process_request
    with redshift_serverless():
        assert DomainDispatcherApplication.__call__ is not dispatch
    assert (DomainDispatcherApplication.__call__, BotocoreStubber.process_request) == (dispatch, intercept)
