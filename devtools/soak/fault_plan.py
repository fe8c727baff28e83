"""What goes wrong during a soak, drawn up front from the seed, and the fault rules that make it happen."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs

from botocore.awsrequest import AWSPreparedRequest

from devtools.faults import ALWAYS, Faults, InvocationTimeout, Rule
from devtools.faults import request_region as signed_region
from devtools.services import CLIENT_FAULTS
from devtools.soak.options import SoakConnection, SoakOptions

# Clients whose calls the soak throttles and fails at random: every one with a fault shape, in soak order.
FAULTED_SERVICES: tuple[str, ...] = tuple(shape.client for shape in CLIENT_FAULTS)
# Clients a regional outage takes down: those calling into the customer's regions.
OUTAGE_SERVICES: tuple[str, ...] = tuple(shape.client for shape in CLIENT_FAULTS if shape.in_customer_regions)
# Usage, emission and roll-up writes per connection-hour, give or take: where a timeout can strike.
WRITES_PER_CONNECTION_HOUR = 3
COLLECTOR_BATCH_SIZE = 10


@dataclass
class FaultPlan:
    """What goes wrong, hour by hour, drawn up front from the seed.

    Request-level faults (throttling, 5xx, lost replies) are rules renewed every hour, so a
    request that recurs every hour (a DescribeInstances, an AssumeRole) can be picked again.
    """

    rate: float
    outage_region: str | None = None
    outage_hours: frozenset[datetime] = frozenset()
    # hour -> ExternalIds whose AssumeRole is refused (AccessDenied) during that hour
    refused: dict[datetime, frozenset[str]] = field(default_factory=dict)
    # hour -> connections whose collect message for the hour SQS delivers twice
    duplicates: dict[datetime, tuple[str, ...]] = field(default_factory=dict)
    # hour -> for each Lambda timeout, the BatchWriteItem calls of the hour that go through before it
    timeouts: dict[datetime, tuple[int, ...]] = field(default_factory=dict)
    # hour -> (BatchWriteItem calls that come back with UnprocessedItems, requests each one keeps)
    unprocessed: dict[datetime, tuple[int, int]] = field(default_factory=dict)
    refusals: int = 0

    @classmethod
    def draw(
        cls, options: SoakOptions, connections: Sequence[SoakConnection], hours: Sequence[datetime], home: str
    ) -> FaultPlan:
        """The plan for ``hours``; ``home`` is CarbonMeter's own region, which the outage spares."""
        rate = options.fault_rate if hours else 0.0
        plan = cls(rate=rate)
        if rate <= 0:
            return plan
        rng = random.Random(f"fault-plan:{options.seed}")
        plan.outage_region = rng.choice(sorted({r for c in connections for r in c.regions if r != home}))
        length = min(len(hours), rng.randint(2, 4))
        start = rng.randrange(len(hours) - length + 1)
        plan.outage_hours = frozenset(hours[start : start + length])
        writes = WRITES_PER_CONNECTION_HOUR * len(connections)
        batches = 2 * math.ceil(len(connections) / COLLECTOR_BATCH_SIZE)
        refused_until: dict[str, int] = {}
        for index, hour in enumerate(hours):
            # An AccessDenied burst: the customer's role refuses CarbonMeter for one to three hours.
            for connection in connections:
                if rng.random() < rate / 10:
                    refused_until[connection.external_id] = index + rng.randint(1, 3)
            refused = frozenset(e for e, until in refused_until.items() if index < until)
            plan.refused[hour] = refused
            plan.refusals += len(refused)
            plan.duplicates[hour] = tuple(c.connection_id for c in connections if rng.random() < rate)
            plan.timeouts[hour] = tuple(rng.randrange(writes) for _ in range(batches) if rng.random() < rate)
            plan.unprocessed[hour] = (sum(rng.random() < rate for _ in range(writes)), rng.randint(1, 20))
        return plan


class FaultInjector:
    """Turns a ``FaultPlan`` into ``Faults`` rules as the simulated hours go by."""

    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self.plan = plan
        self.faults = Faults(seed=seed)
        self.hour: datetime | None = None
        self._unprocessed_calls = 0
        self._rng = random.Random(f"fault-rules:{seed}")
        if plan.rate <= 0:
            return
        for service in OUTAGE_SERVICES:
            # Every call to the region fails with a 503, retries included, while the outage lasts.
            self.faults.add(
                Rule(service, None, "region-outage", code="ServiceUnavailable", status=503, times=ALWAYS)
            ).when = self._in_outage
        self.faults.error(
            "sts",
            "AssumeRole",
            "AccessDenied",
            403,
            times=ALWAYS,
            when=self._refused,
            message="User is not authorized to perform: sts:AssumeRole",
        )

    def start_hour(self, hour: datetime) -> None:
        """Arm this hour's faults (and retire the previous hour's)."""
        self.hour = hour
        if self.plan.rate <= 0:
            return
        during = self._during(hour)
        rate = self.plan.rate
        for service in FAULTED_SERVICES:
            self.faults.throttle(service, probability=rate, times=self._rng.randint(1, 2), when=during)
            self.faults.server_error(service, probability=rate, when=during)
        self.faults.lose_replies("dynamodb", "BatchWriteItem", probability=rate, when=during)
        self.faults.lose_replies("sqs", "SendMessageBatch", probability=rate, when=during)
        for after in self.plan.timeouts.get(hour, ()):
            crash = self.faults.crash("dynamodb", "BatchWriteItem", InvocationTimeout("soak"), after=after)
            crash.when = during
        calls, keep = self.plan.unprocessed.get(hour, (0, 0))
        # Faults counts these calls from the start of the run, so the allowance grows hour by hour.
        self._unprocessed_calls += calls
        self.faults.unprocessed_items(calls=self._unprocessed_calls, keep=keep)

    def _during(self, hour: datetime) -> Callable[[AWSPreparedRequest], bool]:
        return lambda _request: self.hour == hour

    def _in_outage(self, request: AWSPreparedRequest) -> bool:
        return self.hour in self.plan.outage_hours and signed_region(request) == self.plan.outage_region

    def _refused(self, request: AWSPreparedRequest) -> bool:
        return self.hour is not None and _external_id(request) in self.plan.refused.get(self.hour, frozenset())


def _external_id(request: AWSPreparedRequest) -> str:
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
    return parse_qs(body).get("ExternalId", [""])[0]
