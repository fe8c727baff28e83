"""``python -m devtools.instance_types``: the layer's snapshot written from DescribeInstanceTypes, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from carbonmeter.aws import ClientFactory
from carbonmeter.services.instance_types import SPEC_FIELDS, instance_type_spec, snapshot_specs
from devtools.aws.server import embedded_aws
from devtools.instance_types import SnapshotError, main, take_snapshot


def test_writes_every_type_of_the_region_as_the_collector_keeps_it_sorted(tmp_path: Path):
    output = tmp_path / "instance-types.json"
    with embedded_aws() as endpoint:
        # What the embedded EC2 lists, all pages
        pages = boto3.client("ec2", region_name="eu-west-1").get_paginator("describe_instance_types").paginate()
        listed = {info["InstanceType"]: instance_type_spec(info) for page in pages for info in page["InstanceTypes"]}

        # When the command asks the running embedded AWS for eu-west-1
        assert main(["--endpoint-url", endpoint, "--region", "eu-west-1", "--output", str(output)]) == 0

    # Then the file loads as the catalogue reads it and holds exactly those types and specs, sorted, one a line
    document = json.loads(output.read_text(encoding="utf-8"))
    assert snapshot_specs(document) == listed
    assert len(listed) > 500
    assert list(document["instance_types"]) == sorted(listed)
    assert all(tuple(entry) == SPEC_FIELDS for entry in document["instance_types"].values())
    assert len(output.read_text(encoding="utf-8").splitlines()) == len(listed) + 8
    # and says where it was taken
    assert document["source"] == {
        "api": "ec2:DescribeInstanceTypes",
        "region": "eu-west-1",
        "endpoint": f"endpoint {endpoint}",
    }


def test_credentials_refused_the_call_are_told_so():
    # Given credentials whose policy does not allow DescribeInstanceTypes (EC2's answer, stubbed)
    clients = ClientFactory(boto3.Session())
    with Stubber(clients.client("ec2", "eu-west-1")) as ec2:
        ec2.add_client_error("describe_instance_types", "UnauthorizedOperation", http_status_code=403)

        # Then the snapshot is refused, naming the action, the region and AWS's code
        with pytest.raises(SnapshotError, match=r"may not call ec2:DescribeInstanceTypes in eu-west-1 \(Unauthorized"):
            take_snapshot(clients, "eu-west-1", "AWS")


def test_no_credentials_is_one_error_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # Given a shell with no credentials at all (and no instance metadata to find any in)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "CARBONMETER_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    output = tmp_path / "instance-types.json"

    # When the command runs against AWS
    code = main(["--output", str(output)])

    # Then it fails with one line saying what to set, and leaves no file
    assert code == 1
    assert capsys.readouterr().err.startswith("error: no AWS credentials found: set AWS_PROFILE")
    assert not output.exists()
