"""Every name and setting of the CarbonMeter deployment, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from carbonmeter.http_api import API_PREFIX as API_PREFIX
from carbonmeter.metrics import COLLECTOR_COUNT_METRICS as COLLECTOR_COUNTS
from carbonmeter.metrics import MetricName

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_DIR = REPO_ROOT / "layers" / "carbonmeter"
LAYER_PACKAGE_DIR = LAYER_DIR / "python" / "carbonmeter"
LAYER_REQUIREMENTS = LAYER_DIR / "requirements.txt"
WHEELHOUSE_ROOT = REPO_ROOT / ".build" / "wheels"
FUNCTION_HANDLER = "handler.handler"

STACK_NAME = "CarbonMeterStack"
CUSTOMER_ROLE_STACK_NAME = "CarbonMeterCustomerRoleStack"

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64

METRICS_NAMESPACE = "CarbonMeter"
SERVICE_NAME_PREFIX = "carbonmeter"
LOG_LEVEL = "INFO"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# The collector may only assume roles carrying this prefix; the customer stack names its role with it.
CUSTOMER_ROLE_PREFIX = "CarbonMeter"
CUSTOMER_ROLE_NAME = f"{CUSTOMER_ROLE_PREFIX}ReadOnly"
# One hour is the shortest maximum STS allows and longer than one collection run.
CUSTOMER_ROLE_MAX_SESSION = Duration.hours(1)
# The collector's role has a fixed name so that customers' roles trust that one role instead of CarbonMeter's whole
# account (infra/customer_role.py). IAM role names are global to an account: one CarbonMeterStack per account.
# It must not match the collector's own sts:AssumeRole pattern (CUSTOMER_ROLE_PREFIX*), hence lower case.
COLLECTOR_ROLE_NAME = "carbonmeter-collector"

SCHEDULE_RATE = Duration.hours(1)
# `cdk deploy -c collectionWindowHours=6`: the deployment's collection window, Settings.collection_window_hours (1, 3,
# 6, 12 or 24 hours, aligned in UTC; default 1). The scheduler still runs hourly and queues each window once it has
# settled; a connection's own window (`carbonmeter connections window`) overrides it.
COLLECTION_WINDOW_CONTEXT_KEY = "collectionWindowHours"
COLLECTION_WINDOW_SETTINGS_FIELD = "collection_window_hours"
# The insights' runs (infra/insight_schedules.py), in UTC: the day's spend once Cost Explorer has most of
# yesterday, and AWS's monthly figures checked every day (published by the 21st of the next month).
COST_SCHEDULE = events.Schedule.cron(minute="20", hour="6")
RECONCILIATION_SCHEDULE = events.Schedule.cron(minute="40", hour="6")


@dataclass(frozen=True)
class TableSpec:
    """One DynamoDB table: its construct, the setting that names it to the functions, and its key."""

    construct_id: str
    settings_field: str
    partition_key: str
    sort_key: str | None = None
    # The attribute DynamoDB deletes an item after (epoch seconds), for a table of expiring items.
    time_to_live: str | None = None
    # Kept when the stack is deleted, and protected from deletion: every table of measurements.
    retained: bool = True


# The stack creates these, and so does the embedded AWS (devtools/aws/resources.py); carbonmeter.keys says
# what the keys hold. The idempotency table holds the scheduler's page claims, in Powertools' own shape (its
# DynamoDBPersistenceLayer's default key and expiry attributes); they expire within hours and are worth nothing
# after, so it goes with the stack.
TABLES = (
    TableSpec("Connections", "connections_table", "connection_id"),
    TableSpec("Usage", "usage_table", "pk", "sk"),
    TableSpec("Emissions", "emissions_table", "pk", "sk"),
    TableSpec("Idempotency", "idempotency_table", "id", time_to_live="expiration", retained=False),
)

# AWS guidance for SQS event sources: visibility timeout at least six times the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
DLQ_MAX_RECEIVE_COUNT = 3
DLQ_RETENTION = Duration.days(14)

# `cdk deploy -c emissionsProvider=boavizta -c boaviztaUrl=...`: CDK context key -> Settings field of the calculator.
PROVIDER_CONTEXT_KEYS = {
    "emissionsProvider": "emissions_provider",
    "boaviztaUrl": "boavizta_url",
    "httpProviderUrl": "http_provider_url",
    "httpProviderSecretId": "http_provider_secret_id",
    "providerTimeoutSeconds": "provider_timeout_seconds",
    "oxygenitUrl": "oxygenit_url",
    "oxygenitSecretId": "oxygenit_secret_id",
    "oxygenitKeyHeader": "oxygenit_key_header",
    "oxygenitEnergyField": "oxygenit_energy_field",
    "oxygenitEnergyUnit": "oxygenit_energy_unit",
    "oxygenitOperationalField": "oxygenit_operational_field",
    "oxygenitOperationalUnit": "oxygenit_operational_unit",
    "oxygenitEmbodiedField": "oxygenit_embodied_field",
    "oxygenitEmbodiedUnit": "oxygenit_embodied_unit",
}
# `cdk deploy -c cloudfrontKwhPerGb=0.03`: coefficients a deployment chooses where the published figures disagree
# (docs/methodology.md), CDK context key -> Settings field of the calculator. The local pipeline passes them too.
COEFFICIENT_CONTEXT_KEYS = {
    "cloudfrontKwhPerGb": "cloudfront_kwh_per_gb",
}

# Anomaly alerts (docs/insights.md, "Anomalies"): the calculator publishes one message per anomaly to a topic of
# the stack (infra/anomaly_topic.py), whose ARN it reads from this setting; the embedded AWS creates it too.
ANOMALY_TOPIC_SETTINGS_FIELD = "anomaly_topic_arn"
ANOMALY_TOPIC_DISPLAY_NAME = "CarbonMeter anomalies"
# `cdk deploy -c anomalyEmail=team@example.com -c anomalyWebhookUrl=https://...` subscribes them to that topic.
ANOMALY_EMAIL_CONTEXT_KEY = "anomalyEmail"
ANOMALY_WEBHOOK_CONTEXT_KEY = "anomalyWebhookUrl"
# `cdk deploy -c anomalyZThreshold=4`: the detector's thresholds, CDK context key -> Settings field of the calculator.
ANOMALY_CONTEXT_KEYS = {
    "anomalyDetection": "anomaly_detection",
    "anomalyZThreshold": "anomaly_z_threshold",
    "anomalyMinImpactKgCO2e": "anomaly_min_impact_kgco2e",
    "anomalyMinResourceJump": "anomaly_min_resource_jump",
    "anomalyPersistenceHours": "anomaly_persistence_hours",
    "anomalyPersistenceMin": "anomaly_persistence_min",
    "anomalyQuietHours": "anomaly_quiet_hours",
}

ALARM_PERIOD = Duration.minutes(5)
# `cdk deploy -c alarmEmail=ops@example.com` subscribes that address to the alarm topic.
ALARM_EMAIL_CONTEXT_KEY = "alarmEmail"
# `cdk deploy -c customerManagedKey=true` encrypts tables, queues, alarm topic and log groups with one key of ours.
CUSTOMER_MANAGED_KEY_CONTEXT_KEY = "customerManagedKey"

# Work arrives once an hour in a burst, so error rates are judged per hour, not per five minutes.
ERROR_RATE_PERIOD = Duration.hours(1)
ERROR_RATE_THRESHOLD_PERCENT = 10
# A connection with no successful hour for this long is stale; the scheduler counts them every run.
STALE_AFTER_HOURS = 6
STALE_CONNECTIONS_METRIC = MetricName.STALE_CONNECTIONS
STALE_CONNECTIONS_PERIOD = Duration.hours(1)
# The hourly rule drifts within its hour, so one empty hour is normal and two in a row are not.
SCHEDULER_SILENT_HOURS = 2
# The insights' jobs run once a day per connection, so their failures are counted per day.
INSIGHT_FAILURE_PERIOD = Duration.days(1)

# What the collector emits per connection-hour (names shared with the handlers: carbonmeter.metrics), under
# Powertools' single `service` dimension: a connection dimension would make one metric per customer.
COLLECTOR_COUNT_METRICS = COLLECTOR_COUNTS
COLLECTOR_DURATION_METRIC = MetricName.COLLECT_DURATION


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its code lives in ``functions/<name>/handler.py``."""

    name: str
    memory_mb: int
    timeout: Duration
    description: str


def service_name(spec: FunctionSpec) -> str:
    """Powertools' service name of a function: its logs' ``service`` key and its metrics' dimension."""
    return f"{SERVICE_NAME_PREFIX}-{spec.name}"


@dataclass(frozen=True)
class QueueConsumer:
    """How a function drains its SQS queue."""

    batch_size: int
    max_concurrency: int


# Each invocation is one step, CPU-bound: the hourly run (a Scan, a send per ten pages: 0.6 s of this machine's CPU
# at 10,000 connections) or one page of 250 connections (its status queries and sends through botocore: at most
# 2.1 s; `python -m devtools.scheduler_scale --sizes 1000,10000`, docs/benchmarks.md). Lambda gives CPU in
# proportion to memory, a whole vCPU at 1,769 MB: a page takes about those 2 s there, and some 14 s at 256 MB (a
# seventh of one), near the third of the timeout the benchmark holds it to. Being CPU-bound, a page costs about the
# same GB-seconds at either size: the larger only makes it shorter.
SCHEDULER = FunctionSpec(
    name="scheduler",
    memory_mb=1769,
    timeout=Duration.minutes(1),
    description="Sends the connections in pages and queues each page's collect jobs",
)
# Collection of one connection-hour walks every region of the customer's account.
# Memory, measured (`python -m devtools.lambda_benchmark`, docs/benchmarks.md "Lambda sizing"): at 10,000 resources a
# connection-hour peaks at about 82 MiB of Python allocations above the 53 MiB its handler's import holds, so
# about 135 MiB of the 1,024. The size is for the CPU, which Lambda gives in proportion to memory: the collection
# is CPU-bound (docs/benchmarks.md), so less memory would make it slower for about the same GB-seconds.
COLLECTOR = FunctionSpec(
    name="collector",
    memory_mb=1024,
    timeout=Duration.minutes(10),
    description="Reads a customer's resources and CloudWatch metrics into usage records",
)
# Memory, measured as the collector's: the builtin estimate and roll-ups of that hour's 15,640 usage records peak at
# about 68 MiB above the 52 MiB of the handler's import, so about 120 MiB of the 512. Kept for the CPU share, as the
# collector's: the estimate is CPU-bound, and a smaller size would slow it for the same GB-seconds.
CALCULATOR = FunctionSpec(
    name="calculator",
    memory_mb=512,
    timeout=Duration.minutes(2),
    description="Turns usage records into emission records and rollups",
)

# One connection-hour per invocation: a collection can take minutes, so each gets the whole
# timeout to itself, and concurrency (not batching) gives the throughput.
COLLECTOR_CONSUMER = QueueConsumer(batch_size=1, max_concurrency=10)
# The hourly run's pages (``Settings.scheduler_page_connections`` connections each), one an invocation: each
# invocation's work is then one page's, whatever the number of connections. A few at once bound the status
# queries and sends on CarbonMeter's own table and queues; SQS's event source needs two at least.
SCHEDULER_CONSUMER = QueueConsumer(batch_size=1, max_concurrency=4)
CALCULATOR_CONSUMER = QueueConsumer(batch_size=10, max_concurrency=5)

# CloudWatch's GetMetricData quota: 50 requests a second per account and region ("GetMetricData", in the CloudWatch
# service quotas, https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html; adjustable).
CLOUDWATCH_GET_METRIC_DATA_TPS = 50
# Each collector container paces the GetMetricData requests it sends one account in one region
# (``Settings.metric_data_requests_per_second``), but it cannot see the others: up to the collector's maximum
# concurrency of containers may collect connections of one customer account at once, so each gets that share of
# the quota, and all of them together stay within it.
COLLECTOR_METRIC_DATA_SETTINGS_FIELD = "metric_data_requests_per_second"
COLLECTOR_METRIC_DATA_REQUESTS_PER_SECOND = CLOUDWATCH_GET_METRIC_DATA_TPS / COLLECTOR_CONSUMER.max_concurrency

# The web page and its HTTP API (issue 14; docs/api.md). The local server (`make dashboard`) reads the same names.
# Every route of the API lives under API_PREFIX (named by the library, which the function reads too); CloudFront
# sends `/api/*` to the API and the rest to the page.
API_ROUTE = f"{API_PREFIX}/{{proxy+}}"
# Reads of a few DynamoDB items per request; an export of a year streams a few MB, hence the timeout.
API = FunctionSpec(
    name="api",
    memory_mb=512,
    timeout=Duration.seconds(29),
    description="The web page's HTTP API: the library's read use cases, tenant by tenant",
)
# The HTTP API's stage throttling (requests per second, steady and burst): a page view makes about ten requests.
API_THROTTLE_RATE = 50
API_THROTTLE_BURST = 100


@dataclass(frozen=True)
class VendoredFiles:
    """Files of a pinned npm package that the page serves from its own origin: its CSP allows no other."""

    package: str
    dist_dir: Path
    files: tuple[str, ...]
    page_dir: str


# The page's own files (web/), the pinned packages' files copied beside them, and the assembled page the stack
# deploys (`python -m infra.web_assets`, run by `make install`).
WEB_SOURCE_DIR = REPO_ROOT / "web"
UPLOT = VendoredFiles(
    "uplot", REPO_ROOT / "node_modules" / "uplot" / "dist", ("uPlot.esm.js", "uPlot.min.css"), "vendor/uplot"
)
# The API reference (`API_DOCS_DIR`) draws the signed-in user's OpenAPI document with Swagger UI.
SWAGGER_UI = VendoredFiles(
    "swagger-ui-dist",
    REPO_ROOT / "node_modules" / "swagger-ui-dist",
    ("swagger-ui-bundle.js", "swagger-ui.css"),
    "vendor/swagger-ui",
)
VENDORED = (UPLOT, SWAGGER_UI)
API_DOCS_DIR = "api-docs"
WEB_BUILD_DIR = REPO_ROOT / ".build" / "web"
WEB_INDEX = "index.html"
# The page reads its settings from this file, written at deploy time beside it: region, user pool id, client id,
# API base path (the local server serves the same file with the embedded AWS's values).
WEB_CONFIG_FILE = "config.json"
# `cdk deploy -c webAssetsDir=path`: deploy a page assembled elsewhere instead of WEB_BUILD_DIR.
WEB_ASSETS_CONTEXT_KEY = "webAssetsDir"
# Users sign in with a username and password through Cognito's API (USER_PASSWORD_AUTH or SRP); tokens last an
# hour, the refresh token a day.
ID_TOKEN_VALIDITY = Duration.hours(1)
ACCESS_TOKEN_VALIDITY = Duration.hours(1)
REFRESH_TOKEN_VALIDITY = Duration.days(1)


def web_config(*, region: str, user_pool_id: str, client_id: str, cognito_endpoint: str) -> dict[str, str]:
    """The page's ``config.json``: the stack writes it with deploy-time values, the local server with its own.

    The Cognito endpoint is given, not built by the page: its domain depends on the partition (``amazonaws.com``,
    ``amazonaws.com.cn``), which only the stack knows.
    """
    return {
        "region": region,
        "userPoolId": user_pool_id,
        "clientId": client_id,
        "apiBase": API_PREFIX,
        "cognitoEndpoint": cognito_endpoint,
    }


def web_content_security_policy(cognito_origin: str | None = None) -> str:
    """The page's Content-Security-Policy: its own files and API, plus the Cognito endpoint it signs in with.

    No inline script or style, no other origin: uPlot is served from the page's own files. The local server sends
    the same policy (``None``: its Cognito stand-in is under the page's own origin), so the browser tests meet what
    CloudFront sends.
    """
    return _content_security_policy("style-src 'self'", cognito_origin)


def api_docs_content_security_policy() -> str:
    """The API reference's policy: the page's, but Swagger UI may set inline styles (its React components do).

    Scripts stay the page's own files only; the reference signs in with no one (it reads the page's session) and
    calls only the API under the same origin.
    """
    return _content_security_policy("style-src 'self' 'unsafe-inline'", None)


def _content_security_policy(style_src: str, cognito_origin: str | None) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            style_src,
            "img-src 'self' data:",
            " ".join(("connect-src", "'self'", *([cognito_origin] if cognito_origin else []))),
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


# `cdk deploy -c webDomainName=carbon.example.com -c webCertificateArn=arn:aws:acm:us-east-1:...`: serve the page
# under the operator's own name, with an ACM certificate for it in us-east-1 (CloudFront's region for certificates).
WEB_DOMAIN_CONTEXT_KEY = "webDomainName"
WEB_CERTIFICATE_CONTEXT_KEY = "webCertificateArn"
