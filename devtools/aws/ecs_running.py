"""Moto's ECS services report the tasks they run, as ECS does once a deployment has settled.

Moto answers every service's ``runningCount`` (and its deployment's) with the value of the environment variable
``MOTO_ECS_SERVICE_RUNNING``, 0 when unset, whatever the service's ``desiredCount``; an ECS service that has
settled runs its desired count. While this patch is entered, a service created without that variable set runs
its desired count from the start (its deployment completed); with the variable set, moto's own rule stands, so
a test can still ask for a service short of tasks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.ecs.models import Service as MotoEcsService

MOTO_RUNNING_VARIABLE = "MOTO_ECS_SERVICE_RUNNING"


@contextmanager
def ecs_services_run_their_desired_count() -> Iterator[None]:
    original = MotoEcsService.__dict__["__init__"]

    def settled(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if MOTO_RUNNING_VARIABLE in os.environ:
            return
        self.running_count = self.desired_count
        self.pending_count = 0
        for deployment in self.deployments:
            deployment.update(runningCount=self.desired_count, pendingCount=0, rolloutState="COMPLETED")

    MotoEcsService.__init__ = settled  # type: ignore[method-assign]
    try:
        yield
    finally:
        MotoEcsService.__init__ = original  # type: ignore[method-assign]
