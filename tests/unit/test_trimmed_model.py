"""The customer sessions' trimmed service models: only the named members, and never a name that is not one."""

from __future__ import annotations

import boto3
import botocore.loaders
import botocore.session
import pytest

from carbonmeter.aws import TrimmedModelLoader, trimmed_model
from carbonmeter.services import READ_MEMBERS


def _full(service: str) -> dict:
    return botocore.loaders.create_loader().load_service_model(service, "service-2")


def test_every_member_a_slice_names_is_one_of_its_shape() -> None:
    loader = TrimmedModelLoader(READ_MEMBERS)
    for (service, shape), members in READ_MEMBERS.items():
        kept = loader.load_service_model(service, "service-2")["shapes"][shape]["members"]
        assert set(kept) == members
        assert len(_full(service)["shapes"][shape]["members"]) > len(members)


def test_other_shapes_and_the_loaders_own_model_are_left_whole() -> None:
    full = _full("ec2")
    trimmed = trimmed_model(full, {"Instance": frozenset({"InstanceId"})}, "ec2")
    assert list(trimmed["shapes"]["Instance"]["members"]) == ["InstanceId"]
    assert trimmed["shapes"]["Volume"] == full["shapes"]["Volume"]
    assert len(full["shapes"]["Instance"]["members"]) > 1  # the document it was made from is unchanged


def test_a_name_that_is_not_a_member_fails_the_load() -> None:
    with pytest.raises(ValueError, match=r"Instance has no members \['InstanceID'\]"):
        trimmed_model(_full("ec2"), {"Instance": frozenset({"InstanceID"})}, "ec2")
    with pytest.raises(ValueError, match="no structure Instances"):
        trimmed_model(_full("ec2"), {"Instances": frozenset({"InstanceId"})}, "ec2")


def test_a_trimmed_client_parses_only_the_kept_members() -> None:
    core = botocore.session.Session()
    core.register_component("data_loader", TrimmedModelLoader({("ec2", "Instance"): frozenset({"InstanceId"})}))
    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="example", botocore_session=core, region_name="us-east-1"
    )
    ec2 = session.client("ec2")
    members = ec2.meta.service_model.shape_for("Instance").members
    assert list(members) == ["InstanceId"]
    assert list(session.client("sts").meta.service_model.operation_names)  # other services load as they are
