"""Lambda collection on the embedded AWS: functions, their configuration and hourly use."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import boto3

from carbonmeter.aws import ClientFactory
from carbonmeter.cloudwatch import MetricRequest
from carbonmeter.services import lambda_

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)


def create_function(region: str, name: str, **params: object) -> None:
    role = boto3.client("iam", region_name=region).create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda", region_name=region).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": package.getvalue()},
        **params,
    )


def put_metric(region: str, name: str, function: str, values: list[float]) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": HOUR + timedelta(minutes=index),
                "Value": value,
            }
            for index, value in enumerate(values)
        ],
    )


def test_discovers_functions_with_memory_and_architecture(clients: ClientFactory, region: str):
    create_function(region, "resize-images", MemorySize=1024, Architectures=["arm64"])
    create_function(region, "nightly-report")

    resources = {resource.resource_id: resource for resource in lambda_.SLICE.discover(clients, region)}

    assert {
        name: (r.resource_type, r.attributes["architecture"], r.attributes["memory_mb"])
        for name, r in resources.items()
    } == {
        "resize-images": ("arm64-1024MB", "arm64", 1024),
        "nightly-report": ("x86_64-128MB", "x86_64", 128),
    }
    dimensions = (("FunctionName", "resize-images"),)
    end = HOUR + timedelta(hours=1)
    assert lambda_.SLICE.metric_requests(resources["resize-images"], HOUR) == [
        MetricRequest("AWS/Lambda", "Duration", dimensions, "Sum", 3600, HOUR, end),
        MetricRequest("AWS/Lambda", "Invocations", dimensions, "Sum", 3600, HOUR, end),
    ]


def test_sums_duration_and_invocations_over_the_hour(collect):
    create_function("eu-west-1", "resize-images", MemorySize=1024, Architectures=["arm64"])
    create_function("eu-west-1", "unused")
    put_metric("eu-west-1", "Duration", "resize-images", [120.5, 80.0, 300.0])
    put_metric("eu-west-1", "Invocations", "resize-images", [1.0, 1.0, 2.0])

    records = {record.resource_id: record for record in collect(lambda_.SLICE, "eu-west-1", HOUR)}

    busy = records["resize-images"]
    assert (busy.details.memory_mb, busy.details.architecture, busy.details.duration_ms, busy.details.invocations) == (
        1024,
        "arm64",
        500.5,
        4.0,
    )
    unused = records["unused"]
    assert (
        unused.details.memory_mb,
        unused.details.architecture,
        unused.details.duration_ms,
        unused.details.invocations,
    ) == (128, "x86_64", 0.0, 0.0)
