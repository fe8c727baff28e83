"""The container's catalogue of DescribeInstanceTypes answers: asked once per type, kept a day, shared."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from carbonmeter.services.instance_types import TTL_SECONDS, InstanceTypeCatalogue

INFO = {
    "m5.large": {"InstanceType": "m5.large", "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 8192}},
    "c5.large": {"InstanceType": "c5.large", "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 4096}},
}


class FakeEc2:
    """DescribeInstanceTypes' paginator over a fixed answer, counting the types asked for."""

    def __init__(self, region: str = "eu-west-1") -> None:
        self.asked: list[list[str]] = []
        self.meta = SimpleNamespace(region_name=region)

    def get_paginator(self, name: str) -> FakeEc2:
        assert name == "describe_instance_types"
        return self

    def paginate(self, **query: Any) -> list[dict[str, Any]]:
        names = query.get("InstanceTypes") or query["Filters"][0]["Values"]
        self.asked.append(list(names))
        return [{"InstanceTypes": [INFO[name] for name in names if name in INFO]}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_type_already_described_is_not_asked_again():
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue()

    first = catalogue.specs(ec2, ["m5.large"])
    second = catalogue.specs(ec2, ["m5.large", "c5.large"])

    assert ec2.asked == [["m5.large"], ["c5.large"]]
    assert first["m5.large"] == second["m5.large"]
    assert second["c5.large"]["memory_gib"] == 4.0


def test_each_region_asks_for_itself():
    catalogue = InstanceTypeCatalogue()
    ireland, virginia = FakeEc2("eu-west-1"), FakeEc2("us-east-1")

    catalogue.specs(ireland, ["m5.large"])
    catalogue.specs(virginia, ["m5.large"])
    catalogue.specs(ireland, ["m5.large"])

    assert (ireland.asked, virginia.asked) == ([["m5.large"]], [["m5.large"]])


def test_a_name_ec2_does_not_know_is_remembered_as_unknown():
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue()

    assert catalogue.specs(ec2, ["x9.nothing"], tolerate_unknown=True) == {}
    assert catalogue.specs(ec2, ["x9.nothing"], tolerate_unknown=True) == {}

    assert ec2.asked == [["x9.nothing"]]


def test_an_answer_older_than_a_day_is_asked_again():
    ec2, clock = FakeEc2(), Clock()
    catalogue = InstanceTypeCatalogue(clock=clock)
    catalogue.specs(ec2, ["m5.large"])

    clock.now += TTL_SECONDS - 1
    catalogue.specs(ec2, ["m5.large"])
    clock.now += 1
    catalogue.specs(ec2, ["m5.large"])

    assert ec2.asked == [["m5.large"], ["m5.large"]]


def test_clear_forgets_every_answer():
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue()
    catalogue.specs(ec2, ["m5.large"])

    catalogue.clear()
    catalogue.specs(ec2, ["m5.large"])

    assert len(ec2.asked) == 2
