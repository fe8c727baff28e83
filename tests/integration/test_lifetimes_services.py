"""Nothing charged before a resource existed, for the services beyond EC2, EBS, RDS and S3: each gives its
creation time (ElastiCache, DynamoDB, Redshift, ECS, EKS, API Gateway), so a backfill charges no hour before it
and the hour it was created in the share after it (docs/methodology.md, "Lifetimes")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.elasticache.models import elasticache_backends

from carbonmeter.aws import ClientFactory
from carbonmeter.collection import collect_region
from carbonmeter.services import ServiceCollector, apigateway, dynamodb, ecs, eks, elasticache, redshift
from devtools.aws import lifetimes
from devtools.aws.elasticache_serverless import set_caches_created
from devtools.aws.redshift_serverless import set_workgroups_created
from tests.support.connections import connection_for

REGION = "eu-west-1"
ACCOUNT = "123456789012"
HOUR = datetime(2026, 11, 2, 10, tzinfo=UTC)
BEFORE = HOUR - timedelta(hours=1)
# Created at 10:30: the hour before charges nothing, 10:00-11:00 half of it.
CREATED = HOUR + timedelta(minutes=30)
ROLE = "arn:aws:iam::123456789012:role/eks"


def hours_charged(clients: ClientFactory, collector: ServiceCollector) -> dict[tuple[datetime, str], float]:
    """Each (hour, resource)'s ``hours``, over the hour before the creation and the creation hour."""
    usage = collect_region(clients, REGION, [collector], connection_for(REGION), [BEFORE, HOUR])
    charged: dict[tuple[datetime, str], float] = {}
    for record in usage.records:
        charged[(record.hour, record.resource_id)] = max(
            charged.get((record.hour, record.resource_id), 0), record.hours
        )
    return charged


def created_at_half_past(resource_ids: list[str]) -> dict[tuple[datetime, str], float]:
    return {(HOUR, resource_id): pytest.approx(0.5) for resource_id in resource_ids}


def test_elasticache_clusters_and_serverless_caches_charge_nothing_before_their_creation(clients: ClientFactory):
    client = boto3.client("elasticache", region_name=REGION)
    client.create_cache_cluster(CacheClusterId="sessions", CacheNodeType="cache.t3.micro", Engine="redis")
    client.create_serverless_cache(ServerlessCacheName="edge", Engine="valkey")
    lifetimes.set_cache_cluster_created(REGION, "sessions", CREATED)
    set_caches_created(elasticache_backends[ACCOUNT][REGION], CREATED)

    assert hours_charged(clients, elasticache.SLICE) == created_at_half_past(["sessions", "edge"])


def test_a_dynamodb_table_charges_nothing_before_its_creation(clients: ClientFactory):
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    lifetimes.set_table_created(REGION, "orders", CREATED)

    assert hours_charged(clients, dynamodb.SLICE) == created_at_half_past(["orders"])


def test_redshift_clusters_and_workgroups_charge_nothing_before_their_creation(clients: ClientFactory):
    boto3.client("redshift", region_name=REGION).create_cluster(
        ClusterIdentifier="reports",
        NodeType="dc2.large",
        ClusterType="single-node",
        MasterUsername="admin",
        MasterUserPassword="Password1",
    )
    serverless = boto3.client("redshift-serverless", region_name=REGION)
    serverless.create_namespace(namespaceName="sales")
    serverless.create_workgroup(workgroupName="analysts", namespaceName="sales", baseCapacity=8)
    lifetimes.set_redshift_cluster_created(REGION, "reports", CREATED)
    set_workgroups_created(REGION, CREATED, ACCOUNT)

    assert hours_charged(clients, redshift.SLICE) == created_at_half_past(["reports", "analysts"])


def test_an_ecs_service_charges_nothing_before_its_creation(clients: ClientFactory):
    client = boto3.client("ecs", region_name=REGION)
    client.create_cluster(clusterName="shop")
    client.register_task_definition(
        family="web",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx"}],
    )
    service = client.create_service(
        cluster="shop", serviceName="web", taskDefinition="web", desiredCount=1, launchType="FARGATE"
    )["service"]
    lifetimes.set_ecs_service_created(REGION, service["serviceArn"], CREATED)

    assert hours_charged(clients, ecs.SLICE) == created_at_half_past(["shop/web"])


def test_an_eks_cluster_charges_nothing_before_its_creation(clients: ClientFactory):
    boto3.client("eks", region_name=REGION).create_cluster(name="platform", roleArn=ROLE, resourcesVpcConfig={})
    lifetimes.set_eks_cluster_created(REGION, "platform", CREATED)

    assert hours_charged(clients, eks.SLICE) == created_at_half_past(["platform"])


def test_rest_and_http_apis_charge_nothing_before_their_creation(clients: ClientFactory):
    rest = boto3.client("apigateway", region_name=REGION).create_rest_api(name="orders")["id"]
    http = boto3.client("apigatewayv2", region_name=REGION).create_api(Name="events", ProtocolType="HTTP")["ApiId"]
    for api in (rest, http):
        lifetimes.set_api_created(REGION, api, CREATED)

    assert hours_charged(clients, apigateway.SLICE) == created_at_half_past([rest, http])


def test_backdating_makes_every_service_s_resources_exist_through_the_hours(clients: ClientFactory):
    # The workbench's history: after ``backdate``, a resource made "now" is charged whole past hours.
    boto3.client("eks", region_name=REGION).create_cluster(name="platform", roleArn=ROLE, resourcesVpcConfig={})
    lifetimes.backdate(REGION, BEFORE - timedelta(days=1))

    assert hours_charged(clients, eks.SLICE) == {(BEFORE, "platform"): 1.0, (HOUR, "platform"): 1.0}
