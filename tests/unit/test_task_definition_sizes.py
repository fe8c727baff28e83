"""The container's task definition sizes: a revision is described once per container, anything else every time."""

from __future__ import annotations

from typing import Any

import pytest

from carbonmeter.services.ecs import TaskDefinitionSizes, TaskSize

REVISION = "arn:aws:ecs:eu-west-1:111111111111:task-definition/api:3"
OTHER_ACCOUNT = "arn:aws:ecs:eu-west-1:222222222222:task-definition/api:3"


class Ecs:
    """DescribeTaskDefinition answering a size per name, counting the calls."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:
        self.asked.append(taskDefinition)
        cpu = "1024" if "222222222222" in taskDefinition else "512"
        return {"taskDefinition": {"cpu": cpu, "memory": "2048", "runtimePlatform": {"cpuArchitecture": "ARM64"}}}


def test_a_revision_is_described_once_per_container_across_connections() -> None:
    sizes, first, second = TaskDefinitionSizes(), Ecs(), Ecs()
    size = sizes.get(first, REVISION)
    assert sizes.get(second, REVISION) == size == TaskSize(0.5, 2048.0, "arm64", 20.0)
    assert (first.asked, second.asked) == ([REVISION], [])


def test_a_revision_of_another_account_is_its_own() -> None:
    sizes, ecs = TaskDefinitionSizes(), Ecs()
    assert sizes.get(ecs, REVISION).vcpus == 0.5
    assert sizes.get(ecs, OTHER_ACCOUNT).vcpus == 1.0
    assert ecs.asked == [REVISION, OTHER_ACCOUNT]


@pytest.mark.parametrize("name", ["api", "api:3", "arn:aws:ecs:eu-west-1:111111111111:task-definition/api"])
def test_a_name_without_its_revision_arn_is_described_every_time(name: str) -> None:
    # "api" means the family's latest revision, which registering a new one changes.
    sizes, ecs = TaskDefinitionSizes(), Ecs()
    sizes.get(ecs, name)
    sizes.get(ecs, name)
    assert ecs.asked == [name, name]


def test_cleared_and_bounded() -> None:
    sizes, ecs = TaskDefinitionSizes(max_entries=2), Ecs()
    sizes.get(ecs, REVISION)
    sizes.clear()
    sizes.get(ecs, REVISION)
    assert ecs.asked == [REVISION, REVISION]
    sizes.get(ecs, OTHER_ACCOUNT)
    sizes.get(ecs, REVISION.replace(":3", ":4"))  # a third revision starts the container's sizes afresh
    sizes.get(ecs, REVISION)
    assert ecs.asked == [REVISION, REVISION, OTHER_ACCOUNT, REVISION.replace(":3", ":4"), REVISION]
