"""The container's catalogue of instance types: the layer's snapshot first, DescribeInstanceTypes for the rest (asked
once per type, kept a day), and the snapshot file itself."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from carbonmeter.services.instance_types import (
    SNAPSHOT_FILE,
    SPEC_FIELDS,
    TTL_SECONDS,
    InstanceTypeCatalogue,
    instance_type_spec,
    shipped_snapshot,
)

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
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue(snapshot={})

    first = catalogue.specs(ec2, ["m5.large"])
    second = catalogue.specs(ec2, ["m5.large", "c5.large"])

    assert ec2.asked == [["m5.large"], ["c5.large"]]
    assert first["m5.large"] == second["m5.large"]
    assert second["c5.large"]["memory_gib"] == 4.0


def test_each_region_asks_for_itself():
    catalogue = InstanceTypeCatalogue(snapshot={})
    ireland, virginia = FakeEc2("eu-west-1"), FakeEc2("us-east-1")

    catalogue.specs(ireland, ["m5.large"])
    catalogue.specs(virginia, ["m5.large"])
    catalogue.specs(ireland, ["m5.large"])

    assert (ireland.asked, virginia.asked) == ([["m5.large"]], [["m5.large"]])


def test_a_name_ec2_does_not_know_is_remembered_as_unknown():
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue(snapshot={})

    assert catalogue.specs(ec2, ["x9.nothing"], tolerate_unknown=True) == {}
    assert catalogue.specs(ec2, ["x9.nothing"], tolerate_unknown=True) == {}

    assert ec2.asked == [["x9.nothing"]]


def test_an_answer_older_than_a_day_is_asked_again():
    ec2, clock = FakeEc2(), Clock()
    catalogue = InstanceTypeCatalogue(snapshot={}, clock=clock)
    catalogue.specs(ec2, ["m5.large"])

    clock.now += TTL_SECONDS - 1
    catalogue.specs(ec2, ["m5.large"])
    clock.now += 1
    catalogue.specs(ec2, ["m5.large"])

    assert ec2.asked == [["m5.large"], ["m5.large"]]


def test_clear_forgets_every_answer():
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue(snapshot={})
    catalogue.specs(ec2, ["m5.large"])

    catalogue.clear()
    catalogue.specs(ec2, ["m5.large"])

    assert len(ec2.asked) == 2


# The snapshot: types it holds are answered without a call; the others are asked as before.

SNAPSHOT = {"m5.large": instance_type_spec(INFO["m5.large"])}


def test_a_type_in_the_snapshot_is_answered_without_asking():
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue(snapshot=SNAPSHOT)

    specs = catalogue.specs(ec2, ["m5.large"])

    assert ec2.asked == []
    assert specs == {"m5.large": instance_type_spec(INFO["m5.large"])}


def test_a_type_missing_from_the_snapshot_is_asked_once_and_kept():
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue(snapshot=SNAPSHOT)

    first = catalogue.specs(ec2, ["m5.large", "c5.large"])
    second = catalogue.specs(ec2, ["c5.large", "m5.large"])

    assert ec2.asked == [["c5.large"]]
    assert first == second
    assert set(first) == {"m5.large", "c5.large"}


def test_only_asked_types_expire():
    ec2, clock = FakeEc2(), Clock()
    catalogue = InstanceTypeCatalogue(snapshot=SNAPSHOT, clock=clock)
    catalogue.specs(ec2, ["m5.large", "c5.large"])

    clock.now += 10 * TTL_SECONDS
    specs = catalogue.specs(ec2, ["m5.large", "c5.large"])

    assert ec2.asked == [["c5.large"], ["c5.large"]]
    assert set(specs) == {"m5.large", "c5.large"}


def test_clear_forgets_asked_answers_and_keeps_the_snapshot():
    ec2, catalogue = FakeEc2(), InstanceTypeCatalogue(snapshot=SNAPSHOT)
    catalogue.specs(ec2, ["m5.large", "c5.large"])

    catalogue.clear()
    catalogue.specs(ec2, ["m5.large", "c5.large"])

    assert ec2.asked == [["c5.large"], ["c5.large"]]


def test_a_snapshot_source_is_read_once_on_first_use():
    reads: list[int] = []

    def source() -> dict[str, Any]:
        reads.append(1)
        return SNAPSHOT

    catalogue = InstanceTypeCatalogue(snapshot=source)
    assert reads == []  # made, not yet used: a cold start that meets no instance reads nothing

    for _ in range(3):
        catalogue.specs(FakeEc2(), ["m5.large"])

    assert reads == [1]


def test_importing_the_catalogue_reads_no_snapshot():
    # A fresh interpreter, as a cold Lambda container: importing the module must leave the file unread.
    code = (
        "from carbonmeter.services import instance_types as it; "
        "print(it.shipped_snapshot.cache_info().currsize); it.CATALOGUE.snapshot(); "
        "print(it.shipped_snapshot.cache_info().currsize)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.split() == ["0", "1"]


# The shipped file: what instance_type_spec gives, sorted, loadable.


def shipped_document() -> dict[str, Any]:
    return dict(json.loads(SNAPSHOT_FILE.read_text(encoding="utf-8")))


def test_the_snapshot_holds_exactly_the_fields_instance_type_spec_gives():
    entries = shipped_document()["instance_types"]

    assert tuple(instance_type_spec(INFO["m5.large"])) == SPEC_FIELDS
    assert entries
    assert all(tuple(entry) == SPEC_FIELDS for entry in entries.values())


def test_the_snapshot_loads_with_the_value_types_instance_type_spec_gives():
    snapshot = shipped_snapshot()

    kinds = {field: {type(spec[field]) for spec in snapshot.values()} for field in SPEC_FIELDS}
    assert len(snapshot) == len(shipped_document()["instance_types"])
    assert kinds == {
        "vcpus": {int},
        "memory_gib": {float},
        "gpus": {int, float},  # 0 without GPUs, else a sum of floats (fractional for g6f)
        "gpu_model": {str, type(None)},
        "cpu_manufacturer": {str},
        "clock_ghz": {float, type(None)},  # previous generations publish no sustained clock
        "burstable": {bool},
        "supported_architectures": {tuple},
    }
    assert min(spec["vcpus"] for spec in snapshot.values()) >= 1
    assert all(spec["supported_architectures"] for spec in snapshot.values())
    assert snapshot["t3.micro"]["burstable"] is True


def test_the_snapshot_is_sorted_and_says_when_and_where_it_was_taken():
    text = SNAPSHOT_FILE.read_text(encoding="utf-8")
    document = json.loads(text)
    names = [line.split('"')[1] for line in text.splitlines() if line.startswith('    "')]

    assert names == sorted(names) == list(document["instance_types"])
    assert datetime.fromisoformat(document["generated_at"]).tzinfo is not None
    assert document["source"]["api"] == "ec2:DescribeInstanceTypes"
    assert document["source"]["region"]
    assert document["source"]["endpoint"]
    assert document["fields"] == list(SPEC_FIELDS)
