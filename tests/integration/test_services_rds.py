"""RDS collection on the embedded AWS: DB instances, their storage and hourly CPU."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.services import rds

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)


def create_db(region: str, name: str, **params: object) -> None:
    boto3.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier=name, MasterUsername="admin", MasterUserPassword="not-a-secret-1", **params
    )


def test_discovers_db_instances_with_class_engine_and_storage(clients: ClientFactory, region: str):
    create_db(
        region,
        "orders",
        Engine="postgres",
        DBInstanceClass="db.m5.large",
        AllocatedStorage=100,
        StorageType="gp3",
        MultiAZ=True,
        Tags=[{"Key": "team", "Value": "shop"}],
    )
    create_db(region, "legacy", Engine="mysql", DBInstanceClass="db.t3.micro", AllocatedStorage=20, StorageType="gp2")

    resources = {resource.resource_id: resource for resource in rds.COLLECTOR.discover(clients, region)}

    assert {name: (r.resource_type, dict(r.attributes)) for name, r in resources.items()} == {
        "orders": (
            "db.m5.large",
            {
                "multi_az": True,
                "engine": "postgres",
                "storage_type": "gp3",
                "allocated_storage_gib": 100,
                "status": "available",
            },
        ),
        "legacy": (
            "db.t3.micro",
            {
                "multi_az": False,
                "engine": "mysql",
                "storage_type": "gp2",
                "allocated_storage_gib": 20,
                "status": "available",
            },
        ),
    }
    assert rds.COLLECTOR.metric_requests(resources["orders"], HOUR) == [
        MetricRequest(
            "AWS/RDS",
            "CPUUtilization",
            (("DBInstanceIdentifier", "orders"),),
            "Average",
            3600,
            HOUR,
            HOUR + timedelta(hours=1),
        )
    ]


def test_turns_cpu_metrics_into_usage_records(collect):
    create_db(
        "eu-west-1",
        "orders",
        Engine="postgres",
        DBInstanceClass="db.m5.large",
        AllocatedStorage=100,
        StorageType="gp3",
        MultiAZ=True,
    )
    create_db("eu-west-1", "idle", Engine="mysql", DBInstanceClass="db.t3.micro", AllocatedStorage=20)
    boto3.client("cloudwatch", region_name="eu-west-1").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "orders"}],
                "Timestamp": HOUR + timedelta(minutes=minute),
                "Value": value,
            }
            for minute, value in ((0, 10.0), (30, 30.0), (60, 90.0))  # 11:00 belongs to the next hour
        ],
    )

    records = {record.resource_id: record for record in collect(rds.COLLECTOR, "eu-west-1", HOUR)}

    orders = records["orders"]
    assert (orders.resource_type, orders.engine, orders.multi_az, orders.storage_type) == (
        "db.m5.large",
        "postgres",
        True,
        "gp3",
    )
    assert orders.cpu_utilization_pct == 20.0
    assert orders.storage_gb == pytest.approx(107.3741824)
    assert records["idle"].cpu_utilization_pct is None
