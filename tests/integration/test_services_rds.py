"""RDS collection on the embedded AWS: DB instances, their storage and hourly CPU."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from carbonmeter.aws import ApiCallCounter, ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.emissions import estimate
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

    resources = {resource.resource_id: resource for resource in rds.SLICE.discover(clients, region)}

    assert {name: (r.resource_type, dict(r.attributes)) for name, r in resources.items()} == {
        "orders": (
            "db.m5.large",
            {
                "multi_az": True,
                "engine": "postgres",
                "storage_type": "gp3",
                "allocated_storage_gib": 100,
                "status": "available",
                # sized as DescribeInstanceTypes describes the EC2 equivalent, m5.large (the layer's snapshot)
                "vcpus": 2,
                "memory_gib": 8.0,
                "cpu_manufacturer": "Intel",
                "burstable": False,
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
                "vcpus": 2,
                "memory_gib": 1.0,
                "cpu_manufacturer": "Intel",
                "burstable": True,
            },
        ),
    }
    assert rds.SLICE.metric_requests(resources["orders"], HOUR) == [
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

    records = {record.resource_id: record for record in collect(rds.SLICE, "eu-west-1", HOUR)}

    orders = records["orders"]
    assert (orders.resource_type, orders.details.engine, orders.details.multi_az, orders.details.storage_type) == (
        "db.m5.large",
        "postgres",
        True,
        "gp3",
    )
    assert orders.details.cpu_utilization_pct == 20.0
    assert orders.details.storage_gb == pytest.approx(107.3741824)
    assert records["idle"].details.cpu_utilization_pct is None


def test_graviton_and_newer_classes_are_sized_from_their_ec2_twin_and_estimated(collect):
    # Given a Graviton3 class newer than the emission data and a burstable Graviton2 class
    create_db("eu-west-1", "new", Engine="postgres", DBInstanceClass="db.r7g.large", AllocatedStorage=20)
    create_db("eu-west-1", "small", Engine="mysql", DBInstanceClass="db.t4g.micro", AllocatedStorage=20)

    # When the hour is collected and estimated
    records = {record.resource_id: record for record in collect(rds.SLICE, "eu-west-1", HOUR)}
    emissions = {name: estimate(record) for name, record in records.items()}

    # Then both carry their EC2 twin's size and hardware, and both get compute and embodied emissions
    assert (
        records["new"].details.vcpus,
        records["new"].details.memory_gib,
        records["new"].details.cpu_manufacturer,
    ) == (2, 16.0, "AWS")
    assert (records["small"].details.vcpus, records["small"].details.burstable) == (2, True)
    assert all(e.compute_kwh > 0 and e.embodied_kgco2e > 0 for e in emissions.values())
    assert "microarchitecture_mapped:AWS Graviton3->AWS Graviton2" in emissions["new"].flags
    assert "burstable_baseline_scaling" in emissions["small"].flags


def test_aurora_serverless_reads_its_capacity_units(aws: None, collect, counter: ApiCallCounter):
    # Given an Aurora Serverless v2 instance whose capacity averaged 4 ACUs over the hour
    rds_client = boto3.client("rds", region_name="eu-west-1")
    rds_client.create_db_cluster(
        DBClusterIdentifier="shop",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 16},
    )
    rds_client.create_db_instance(
        DBInstanceIdentifier="shop-1",
        DBClusterIdentifier="shop",
        Engine="aurora-postgresql",
        DBInstanceClass="db.serverless",
    )
    boto3.client("cloudwatch", region_name="eu-west-1").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ServerlessDatabaseCapacity",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "shop-1"}],
                "Timestamp": HOUR + timedelta(minutes=minute),
                "Value": value,
            }
            for minute, value in ((0, 2.0), (30, 6.0))
        ],
    )

    # When the hour is collected
    (record,) = collect(rds.SLICE, "eu-west-1", HOUR)

    # Then the record carries the hour's average ACUs and no EC2 size, and the estimate uses the ACUs
    assert (record.resource_type, record.details.capacity_units, record.details.vcpus) == ("db.serverless", 4.0, None)
    emission = estimate(record)
    assert emission.compute_kwh > 0
    assert "aurora_serverless_acu_mapping" in emission.flags


def test_a_class_with_no_ec2_twin_in_the_snapshot_is_asked_once_and_remembered(clients, counter: ApiCallCounter):
    # Given a class the snapshot knows and one with no EC2 type of its name (EC2 knows no zz9.large either)
    create_db("eu-west-1", "orders", Engine="postgres", DBInstanceClass="db.m5.large", AllocatedStorage=20)
    create_db("eu-west-1", "odd", Engine="postgres", DBInstanceClass="db.zz9.large", AllocatedStorage=20)

    # When RDS is discovered twice in the same container (two hours)
    for _ in range(2):
        resources = {resource.resource_id: resource for resource in rds.SLICE.discover(clients, "eu-west-1")}

    # Then EC2 was asked once, for the unknown class alone, and it is kept unsized; the known one is sized
    assert counter.calls["ec2:DescribeInstanceTypes"] == 1
    assert resources["odd"].attributes["vcpus"] is None
    assert resources["orders"].attributes["vcpus"] == 2
