"""Runs the real Lambda handlers locally, fed the events AWS would send them.

The scheduler gets EventBridge scheduled events, then the SQS batches of its own page
queue (the hourly run's pages of connections); the collector and the calculator get SQS
batches received from the embedded AWS's queues, and only the messages they did not
report as failed are deleted, as the SQS event source does.

Each function runs with credentials of its own and under its deployed IAM policy, as
synthesized by the stack (``devtools.aws.iam``): a call its role does not allow fails
with AccessDenied, as in AWS. So do the event source's calls on the function's queue.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from carbonmeter import runtime
from carbonmeter.aws import ClientFactory
from carbonmeter.models import CollectJob
from carbonmeter.runtime import Runtime, use_runtime, utc_now
from carbonmeter.settings import Settings
from devtools.aws.iam import DeployedPolicies, IamGuard, synthesized_templates
from devtools.aws.lambda_events import LambdaContext, scheduled_event, sqs_event
from infra.constants import ANOMALY_TOPIC_SETTINGS_FIELD, COEFFICIENT_CONTEXT_KEYS, SCHEDULER_CONSUMER

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# Handlers read their configuration from the environment, as in Lambda: where the stack's resources are, and the
# coefficients a deployment may choose (unset ones are left out, as the stack leaves them).
_SETTINGS_FIELDS = (
    "connections_table",
    "usage_table",
    "emissions_table",
    "collect_queue_url",
    "calculate_queue_url",
    "page_queue_url",
    "idempotency_table",
    ANOMALY_TOPIC_SETTINGS_FIELD,
    *COEFFICIENT_CONTEXT_KEYS.values(),
)


@dataclass
class PlannedJobs:
    """What the scheduler sent to the collect and calculate queues (sends, retried ones included)."""

    jobs: int = 0
    calculations: int = 0
    # Counted while the page queue drains only: then every collect-queue message the scheduler sends is a job.
    recording: bool = False


@dataclass
class DrainStats:
    batches: int = 0
    succeeded: int = 0
    failed: int = 0
    # Why each failed invocation failed (a batch whose every message failed fails the invocation).
    errors: list[str] = field(default_factory=list)


@contextmanager
def lambda_environment(settings: Settings) -> Iterator[None]:
    """Set what the CDK stack sets on the functions, and restore the environment after."""
    values = {
        Settings.env_name(name): str(value)
        for name in _SETTINGS_FIELDS
        if (value := getattr(settings, name)) is not None
    }
    values.update(
        {
            "POWERTOOLS_SERVICE_NAME": "carbonmeter",
            "POWERTOOLS_METRICS_NAMESPACE": "CarbonMeter",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    runtime.reset()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        runtime.reset()


class LocalPipeline:
    """The three functions wired together through the embedded AWS's queues."""

    def __init__(
        self,
        clients: ClientFactory,
        settings: Settings,
        account_id: str | None = None,
        *,
        policies: DeployedPolicies | None = None,
    ) -> None:
        """``policies`` default to the synthesized stack's; tests pass altered ones to prove a grant is needed."""
        from functions.calculator import handler as calculator
        from functions.collector import handler as collector
        from functions.scheduler import handler as scheduler

        self.clients = clients
        self.settings = settings
        self.account_id = account_id or clients.client("sts").get_caller_identity()["Account"]
        policies = policies or DeployedPolicies.of(synthesized_templates(), settings, self.account_id)
        self.guard = IamGuard(policies, self.account_id)
        self._as_function: dict[tuple[str, ClientFactory], ClientFactory] = {}
        # The functions' clock: the time of the last simulated schedule, so hours run in any order or pace.
        self.simulated_now: datetime | None = None
        self.scheduler: Handler = scheduler.handler
        self.collector: Handler = collector.handler
        self.calculator: Handler = calculator.handler
        # What the scheduler's page steps queued since the last hourly run: collect jobs' hours and calculations.
        self.planned = PlannedJobs()

    def clients_of(self, function: str, base: ClientFactory | None = None) -> ClientFactory:
        """``base`` (settings, counter, hooks) signing as ``function``, under the guard."""
        base = base or self.clients
        key = (function, base)
        if key not in self._as_function:
            self._as_function[key] = ClientFactory(
                self.guard.session(function),
                settings=base.settings,
                counter=base.counter,
                hooks=(*base.hooks, *self.guard.hooks(), *self._recorders(function)),
                retry_mode=base.retry_mode,
                rate_limits=base.rate_limits,
            )
        return self._as_function[key]

    @contextmanager
    def running_as(self, function: str) -> Iterator[None]:
        """The handlers' runtime (the one in use, with its hooks) with ``function``'s credentials."""
        current = runtime.runtime()
        clients = self.clients_of(function, current.clients)
        with use_runtime(Runtime(settings=current.settings, clients=clients, clock=self.now)):
            yield

    def now(self) -> datetime:
        return self.simulated_now or utc_now()

    def fire_time(self, hour: datetime) -> datetime:
        """When the hourly rule first collects ``hour``: once it has ended and settled, plus the rule's drift."""
        return hour + timedelta(hours=1, minutes=self.settings.settle_minutes + 2)

    def fire_schedule(self, fired_at: datetime) -> dict[str, Any]:
        """Invoke the scheduler as the hourly rule does at ``fired_at``, then drain its pages as its event source
        does; the functions' clock then reads ``fired_at``. The answer adds what the pages queued: ``jobs``
        (connection-hours, as a backfill's answer counts them) and ``calculations``."""
        self.simulated_now = fired_at
        rule = f"arn:aws:events:{self.settings.region}:{self.account_id}:rule/carbonmeter-hourly"
        event = scheduled_event(fired_at, rule, self.account_id, self.settings.region)
        run = self.invoke_scheduler(event)
        self.planned = PlannedJobs(recording=True)
        try:
            pages = self.drain_pages()
        finally:
            self.planned.recording = False
        return run | {
            "jobs": self.planned.jobs,
            "calculations": self.planned.calculations,
            "failed_pages": pages.failed,
            "page_errors": pages.errors,
        }

    def invoke_scheduler(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the scheduler with a manual (test) event."""
        with self.running_as("scheduler"):
            return self.scheduler(event, self._context("scheduler"))

    def drain_pages(self, max_batches: int = 10_000) -> DrainStats:
        """The scheduler's page queue, one page an invocation as its event source is set (infra/constants.py)."""
        assert self.settings.page_queue_url
        return self.drain(
            self.settings.page_queue_url, self.scheduler, "scheduler", max_batches, SCHEDULER_CONSUMER.batch_size
        )

    def drain_collect(self, max_batches: int = 10_000) -> DrainStats:
        assert self.settings.collect_queue_url
        return self.drain(self.settings.collect_queue_url, self.collector, "collector", max_batches)

    def drain_calculate(self, max_batches: int = 10_000) -> DrainStats:
        assert self.settings.calculate_queue_url
        return self.drain(self.settings.calculate_queue_url, self.calculator, "calculator", max_batches)

    def drain(self, queue_url: str, handler: Handler, name: str, max_batches: int, batch_size: int = 10) -> DrainStats:
        """Feed the queue's messages to ``handler`` until the queue is empty (or ``max_batches``)."""
        # The event source mapping polls with the function's own role.
        sqs = self.clients_of(name).client("sqs")
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stats = DrainStats()
        while stats.batches < max_batches:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=batch_size,
                MessageSystemAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not messages:
                return stats
            stats.batches += 1
            failed = self._invoke(handler, sqs_event(messages, queue_arn, self.settings.region), name, stats.errors)
            self._settle(sqs, queue_url, messages, failed)
            stats.failed += len(failed)
            stats.succeeded += len(messages) - len(failed)
        return stats

    def _invoke(self, handler: Handler, event: dict[str, Any], name: str, errors: list[str]) -> set[str]:
        """The ids of the messages to retry: the reported failures, or all of them if the invocation failed."""
        try:
            with self.running_as(name):
                response = handler(event, self._context(name))
        except Exception as error:
            # Lambda returns every message of a failed invocation to the queue.
            errors.append(str(error))
            return {record["messageId"] for record in event["Records"]}
        return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}

    def _settle(self, sqs: Any, queue_url: str, messages: list[dict[str, Any]], failed: set[str]) -> None:
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        # A failed message becomes visible again at once here, rather than after the visibility timeout.
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )

    def run_hour(self, hour: datetime) -> tuple[DrainStats, DrainStats]:
        """Everything the cloud does for one hour: the rule fires just after it ends, then both queues drain."""
        self.fire_schedule(self.fire_time(hour))
        return self.drain_collect(), self.drain_calculate()

    def _recorders(self, function: str) -> tuple[tuple[str, Any], ...]:
        # Only the scheduler's sends are the pages' jobs (the collector queues backfill chunks' jobs too).
        return (("provide-client-params.sqs.SendMessageBatch", self._record_sends),) if function == "scheduler" else ()

    def _record_sends(self, params: dict[str, Any], **_: Any) -> None:
        if not self.planned.recording:
            return
        bodies = [entry["MessageBody"] for entry in params.get("Entries", [])]
        if params.get("QueueUrl") == self.settings.collect_queue_url:
            self.planned.jobs += sum(len(CollectJob.model_validate_json(body).hours()) for body in bodies)
        elif params.get("QueueUrl") == self.settings.calculate_queue_url:
            self.planned.calculations += len(bodies)

    def _context(self, name: str) -> LambdaContext:
        return LambdaContext(
            function_name=f"carbonmeter-{name}", account_id=self.account_id, region=self.settings.region
        )
