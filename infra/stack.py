"""CarbonMeterStack: the hourly collection and calculation pipeline in CarbonMeter's own account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from carbonmeter.collection_windows import allowed as allowed_windows
from carbonmeter.collection_windows import check_window_hours
from carbonmeter.metrics import MetricName
from carbonmeter.settings import Settings
from infra.alarms import Alerts
from infra.anomaly_topic import AnomalyTopic
from infra.constants import (
    ALARM_EMAIL_CONTEXT_KEY,
    API,
    CALCULATOR,
    CALCULATOR_CONSUMER,
    COLLECTION_WINDOW_CONTEXT_KEY,
    COLLECTION_WINDOW_SETTINGS_FIELD,
    COLLECTOR,
    COLLECTOR_CONSUMER,
    COLLECTOR_METRIC_DATA_REQUESTS_PER_SECOND,
    COLLECTOR_METRIC_DATA_SETTINGS_FIELD,
    COLLECTOR_ROLE_NAME,
    CUSTOMER_ROLE_PREFIX,
    REPO_ROOT,
    SCHEDULE_RATE,
    SCHEDULER,
    SCHEDULER_CONSUMER,
    STALE_AFTER_HOURS,
    WEB_ASSETS_CONTEXT_KEY,
    WEB_BUILD_DIR,
    FunctionSpec,
    QueueConsumer,
)
from infra.dashboard import DashboardFunction, DashboardQueue, OperationsDashboard
from infra.encryption import data_key
from infra.function import CarbonMeterFunction
from infra.http_api import WebHttpApi
from infra.insight_schedules import InsightSchedules
from infra.layer import CarbonMeterLayer
from infra.nag import acknowledge
from infra.provider import EmissionsProviderConfig
from infra.queues import WorkQueue, dead_letter_queue
from infra.tables import Tables, grant_item_writes, grant_reads
from infra.user_pool import WebUserPool
from infra.web_bucket import WebBucket
from infra.web_deployment import WebDeployment
from infra.web_distribution import WebDistribution


def customer_role_arn_pattern(partition: str = Aws.PARTITION) -> str:
    """Every role the collector may assume: customers' roles named with the CarbonMeter prefix."""
    return f"arn:{partition}:iam::*:role/{CUSTOMER_ROLE_PREFIX}*"


class CarbonMeterStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, description="CarbonMeter: hourly carbon accounting of AWS accounts", **kwargs
        )
        # None unless `-c customerManagedKey=true`: then one key of ours encrypts every store of data.
        self.key = data_key(self)
        self.tables = Tables(self, "Tables", key=self.key)
        self.collect = WorkQueue(self, "Collect", consumer=COLLECTOR, key=self.key)
        self.calculate = WorkQueue(self, "Calculate", consumer=CALCULATOR, key=self.key)
        # The hourly run's pages of connections, planned by the scheduler itself.
        self.pages = WorkQueue(self, "SchedulePages", consumer=SCHEDULER, key=self.key)
        self.layer = CarbonMeterLayer(self, "CarbonMeterLayer")
        # Settings fields, by name, that locate the resources of this stack.
        self.settings_values = {
            "connections_table": self.tables.connections.table_name,
            "usage_table": self.tables.usage.table_name,
            "emissions_table": self.tables.emissions.table_name,
            "collect_queue_url": self.collect.queue.queue_url,
            "calculate_queue_url": self.calculate.queue.queue_url,
        }
        self.settings_environment = {Settings.env_name(field): value for field, value in self.settings_values.items()}
        self.settings_environment |= self._collection_window()

        # EventBridge invokes the scheduler asynchronously: an hourly run that fails every retry waits here.
        self.scheduler_dead_letters = dead_letter_queue(self, "SchedulerDeadLetterQueue", key=self.key)
        self.scheduler = self._function(
            SCHEDULER,
            {
                Settings.env_name("stale_after_hours"): str(STALE_AFTER_HOURS),
                # The scheduler's own: its pages and their claims.
                Settings.env_name("page_queue_url"): self.pages.queue.queue_url,
                Settings.env_name("idempotency_table"): self.tables.idempotency.table_name,
            },
            dead_letter_queue=self.scheduler_dead_letters,
        )
        # Named, so that customers' roles can trust this role alone (infra/customer_role.py).
        self.collector = self._function(
            COLLECTOR,
            {
                Settings.env_name(COLLECTOR_METRIC_DATA_SETTINGS_FIELD): str(COLLECTOR_METRIC_DATA_REQUESTS_PER_SECOND),
            },
            role_name=COLLECTOR_ROLE_NAME,
        )
        self.provider = EmissionsProviderConfig(self, "EmissionsProvider")
        self.calculator = self._function(CALCULATOR, self.provider.environment)
        self._wire_scheduler()
        self._wire_collector()
        self._wire_calculator()
        # The web page first: its API function is alarmed on and graphed with the pipeline's.
        self._add_web()
        self._add_alarms()
        self._wire_anomalies()
        self._add_dashboard()
        self._add_outputs()

    def _collection_window(self) -> dict[str, str]:
        """The deployment's collection window for every function (the CLI reads the stack's output), if chosen."""
        chosen = self.node.try_get_context(COLLECTION_WINDOW_CONTEXT_KEY)
        if chosen is None:
            return {}
        if not str(chosen).isdigit():
            raise ValueError(f"-c {COLLECTION_WINDOW_CONTEXT_KEY}={chosen}: give {allowed_windows()} hours")
        try:
            hours = check_window_hours(int(chosen))
        except ValueError as exc:
            raise ValueError(f"-c {COLLECTION_WINDOW_CONTEXT_KEY}={chosen}: {exc}") from None
        return {Settings.env_name(COLLECTION_WINDOW_SETTINGS_FIELD): str(hours)}

    def _function(
        self,
        spec: FunctionSpec,
        extra_environment: dict[str, str] | None = None,
        *,
        role_name: str | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> CarbonMeterFunction:
        function = CarbonMeterFunction(
            self,
            spec.name.capitalize(),
            spec=spec,
            layer=self.layer.layer_version,
            environment=self.settings_environment | (extra_environment or {}),
            role_name=role_name,
            log_key=self.key,
            dead_letter_queue=dead_letter_queue,
        )
        policy = function.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
        )
        if self.key:
            for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Action::{action}]",
                    "The CDK's grants for encrypted queues and tables: variants of one KMS operation, on the data "
                    "key alone.",
                )
        return function

    def _wire_scheduler(self) -> None:
        function = self.scheduler.function
        events.Rule(
            self,
            "HourlySchedule",
            description="Starts collection of the hour that just ended",
            schedule=events.Schedule.rate(SCHEDULE_RATE),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        # Exactly the calls the scheduler makes (carbonmeter.store): Scan lists the enabled connections, GetItem
        # looks up the ones a backfill names, and Query reads the hour statuses kept in the usage table.
        grant_reads(self.tables.connections, function, "dynamodb:Scan", "dynamodb:GetItem")
        grant_reads(self.tables.usage, function, "dynamodb:Query")
        # The hourly run sends its pages to the page queue, from which the same function plans them; a page's
        # claim is Powertools idempotency's record: written, read on a conflict, updated when done, deleted on a
        # failure.
        self.pages.queue.grant_send_messages(function)
        function.add_event_source(_sqs_source(self.pages, SCHEDULER_CONSUMER))
        grant_item_writes(
            self.tables.idempotency,
            function,
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
        self.collect.queue.grant_send_messages(function)
        # Hours whose usage is stored but whose calculation failed for good are queued for the calculator again.
        self.calculate.queue.grant_send_messages(function)
        # The daily cost run and the monthly reconciliation: the same grants (Scan, Query, the collect queue).
        self.insight_schedules = InsightSchedules(self, "InsightSchedules", scheduler=function)

    def _wire_collector(self) -> None:
        function = self.collector.function
        function.add_event_source(_sqs_source(self.collect, COLLECTOR_CONSUMER))
        # Read/write: the collector records each connection's last success or error.
        self.tables.connections.grant_read_write_data(function)
        self.tables.usage.grant_read_write_data(function)
        self.calculate.queue.grant_send_messages(function)
        # A long backfill's chunks are expanded by the collector into collect jobs on its own queue.
        self.collect.queue.grant_send_messages(function)
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[customer_role_arn_pattern()])
        )
        acknowledge(
            self.collector.role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/{CUSTOMER_ROLE_PREFIX}*]",
            "Customers create the read-only role in their own accounts, so the account is unknown; "
            "the role name prefix and each role's ExternalId condition limit what can be assumed.",
        )

    def _wire_calculator(self) -> None:
        function = self.calculator.function
        function.add_event_source(_sqs_source(self.calculate, CALCULATOR_CONSUMER))
        self.tables.usage.grant_read_data(function)
        # UpdateItem only: the calculator marks each hour's status calculated (or failed); it writes no usage.
        # With a customer managed key, the emissions grant below already lets it encrypt with that key.
        self.tables.usage.grant(function, "dynamodb:UpdateItem")
        self.tables.emissions.grant_read_write_data(function)
        self.provider.grant(function)

    def _add_alarms(self) -> None:
        self.alerts = Alerts(self, "Alerts", email=self.node.try_get_context(ALARM_EMAIL_CONTEXT_KEY), key=self.key)
        self.alerts.alarm_on_dead_letters("CollectDeadLetters", self.collect.dead_letter_queue, "Collect jobs")
        self.alerts.alarm_on_dead_letters("CalculateDeadLetters", self.calculate.dead_letter_queue, "Calculate jobs")
        self.alerts.alarm_on_dead_letters("SchedulerDeadLetters", self.scheduler_dead_letters, "Scheduler runs")
        self.alerts.alarm_on_dead_letters("SchedulePageDeadLetters", self.pages.dead_letter_queue, "Schedule pages")
        for function in self._functions():
            self.alerts.alarm_on_error_rate(
                f"{function.spec.name.capitalize()}Errors", function.function, function.spec.name
            )
        self.alerts.alarm_on_stale_connections("StaleConnections")
        self.alerts.alarm_when_silent("SchedulerSilent", self.scheduler.function, SCHEDULER.name)
        self.alerts.alarm_on_failed_insight_jobs("CostJobsFailing", MetricName.COST_JOBS_FAILED, "Cost jobs")
        self.alerts.alarm_on_failed_insight_jobs(
            "ReconciliationJobsFailing", MetricName.RECONCILIATION_JOBS_FAILED, "Reconciliation jobs"
        )

    def _wire_anomalies(self) -> None:
        # Under the alarm topic's key: the stack's own key when there is one, else the alarm topic's.
        self.anomalies = AnomalyTopic(self, "Anomalies", key=self.alerts.key)
        function = self.calculator.function
        for name, value in self.anomalies.environment.items():
            function.add_environment(name, value)
        self.anomalies.grant_publish(function)
        if not self.key:  # with the stack's key, _function has acknowledged the same grant already
            acknowledge(
                self.calculator.role.node.find_child("DefaultPolicy"),
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                "The CDK's grant for publishing to the encrypted anomaly topic: variants of one KMS operation, on "
                "the alarm topic's key alone.",
            )
        self.alerts.alarm_on_failed_notifications("AnomalyAlertsFailed", self.anomalies.topic, "Anomaly alerts")

    def _add_dashboard(self) -> None:
        self.dashboard = OperationsDashboard(
            self,
            "Operations",
            functions=[
                DashboardFunction(f.spec.name.capitalize(), f.function, f.function.dead_letter_queue)
                for f in self._functions()
            ],
            queues=[DashboardQueue("Collect", self.collect), DashboardQueue("Calculate", self.calculate)],
            alarms=self.alerts.alarms,
        )

    def _add_web(self) -> None:
        """The web page (docs/deploy.md, "The web page"): users, the HTTP API and its function, the page."""
        self.users = WebUserPool(self, "Users")
        # The same settings as the pipeline's functions (table and queue names); it is granted table reads alone.
        self.api_function = self._function(API)
        self._grant_api_reads()
        self.http_api = WebHttpApi(
            self,
            "HttpApi",
            function=self.api_function.function,
            user_pool=self.users.user_pool,
            client=self.users.client,
            log_key=self.key,
        )
        self.web_bucket = WebBucket(self, "WebBucket")
        self.web = WebDistribution(
            self,
            "Web",
            bucket=self.web_bucket.bucket,
            api_domain=self.http_api.domain_name,
            log_bucket=self.web_bucket.logs,
        )
        self.web_page = WebDeployment(
            self,
            "WebPage",
            page_dir=self._page_dir(),
            bucket=self.web_bucket.bucket,
            distribution=self.web.distribution,
            user_pool=self.users.user_pool,
            client=self.users.client,
            log_key=self.key,
        )

    def _grant_api_reads(self) -> None:
        # Exactly the reads of the use cases behind docs/api.md's routes (carbonmeter.tenancy over store, queries,
        # series and insights): GetItem and Scan of the connections; Query of the usage table (hour statuses, costs,
        # usage records for recommendations) and GetItem there (AWS's monthly figure); Query of the emissions table
        # (roll-ups, records, anomalies). No write, nor BatchGetItem (only the calculator's anomaly check uses it).
        function = self.api_function.function
        grant_reads(self.tables.connections, function, "dynamodb:GetItem", "dynamodb:Scan")
        grant_reads(self.tables.usage, function, "dynamodb:Query", "dynamodb:GetItem")
        grant_reads(self.tables.emissions, function, "dynamodb:Query")

    def _page_dir(self) -> Path:
        """The assembled page: `-c webAssetsDir=...` (relative to the repository), else `.build/web`."""
        chosen = self.node.try_get_context(WEB_ASSETS_CONTEXT_KEY)
        return REPO_ROOT / chosen if chosen else WEB_BUILD_DIR

    def _functions(self) -> tuple[CarbonMeterFunction, ...]:
        return (self.scheduler, self.collector, self.calculator, self.api_function)

    def _add_outputs(self) -> None:
        # Described by the environment variable they set, so the operator's CLI can be configured from them.
        for field, value in self.settings_values.items():
            output_id = "".join(part.title() for part in field.split("_"))
            CfnOutput(self, output_id, value=value, description=Settings.env_name(field))
        window_env = Settings.env_name(COLLECTION_WINDOW_SETTINGS_FIELD)
        window = self.settings_environment.get(window_env, str(Settings().collection_window_hours))
        CfnOutput(self, "CollectionWindowHours", value=window, description=window_env)
        CfnOutput(self, "AlarmTopicArn", value=self.alerts.topic.topic_arn)
        CfnOutput(self, "AnomalyTopicArn", value=self.anomalies.topic.topic_arn)
        # Manual backfills are test events sent to this function (README, "Backfills and manual runs").
        CfnOutput(self, "SchedulerFunctionName", value=self.scheduler.function.function_name)
        # `carbonmeter connections test` and `add` ask it to check a role: customers' roles trust its role alone.
        # Not among the functions' settings: the collector's own environment cannot name it (a circular reference).
        CfnOutput(
            self,
            "CollectorFunctionName",
            value=self.collector.function.function_name,
            description=Settings.env_name("collector_function_name"),
        )
        CfnOutput(
            self,
            "DashboardUrl",
            value=f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards/dashboard/{self.dashboard.dashboard.dashboard_name}",
        )
        # The web page (docs/deploy.md): its address, and what an operator needs to add users to it.
        CfnOutput(self, "WebUrl", value=self.web.url)
        CfnOutput(self, "UserPoolId", value=self.users.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.users.client.user_pool_client_id)


def _sqs_source(queue: WorkQueue, consumer: QueueConsumer) -> event_sources.SqsEventSource:
    return event_sources.SqsEventSource(
        queue.queue,
        batch_size=consumer.batch_size,
        max_concurrency=consumer.max_concurrency,
        report_batch_item_failures=True,
    )
