"""The names of the metrics the functions emit (CloudWatch embedded metric format, namespace ``CarbonMeter``).

The handlers emit them and the stack graphs and alarms on them (``infra/``): one list, so a renamed
metric cannot leave a dashboard graph or an alarm watching nothing.
"""

from __future__ import annotations

from enum import StrEnum


class MetricName(StrEnum):
    # collector, one data point per connection-hour
    USAGE_RECORDS_WRITTEN = "UsageRecordsWritten"
    API_CALLS = "ApiCalls"
    METRICS_REQUESTED = "MetricsRequested"
    GET_METRIC_DATA_REQUESTS = "GetMetricDataRequests"
    COLLECT_DURATION = "CollectDuration"
    # scheduler, one data point per run (pages queued, stale connections) or per page (jobs, calculations)
    COLLECT_JOBS_QUEUED = "CollectJobsQueued"
    STALE_CONNECTIONS = "StaleConnections"
    CALCULATIONS_REQUEUED = "CalculationsRequeued"
    SCHEDULE_PAGES_QUEUED = "SchedulePagesQueued"
    # calculator, one data point per connection-hour
    RESOURCES_CALCULATED = "ResourcesCalculated"
    ENERGY_KWH = "EnergyKwh"
    OPERATIONAL_KGCO2E = "OperationalKgCO2e"
    PROVIDER_FALLBACKS = "ProviderFallbacks"
    # collector, one data point per insight job (carbonmeter/insights/)
    COST_DAYS_FETCHED = "CostDaysFetched"
    COST_JOBS_FAILED = "CostJobsFailed"
    RECONCILIATION_MONTHS_FETCHED = "ReconciliationMonthsFetched"
    RECONCILIATION_JOBS_FAILED = "ReconciliationJobsFailed"
    # scheduler, one data point per insight run
    INSIGHT_JOBS_QUEUED = "InsightJobsQueued"
    ANOMALY_ALERTS = "AnomalyAlerts"
    # HTTP API, one data point per request: the answer's body, against Lambda's 6 MB limit
    API_RESPONSE_BYTES = "ApiResponseBytes"


# What the collector counts per connection-hour, as the dashboard graphs it.
COLLECTOR_COUNT_METRICS: tuple[MetricName, ...] = (
    MetricName.USAGE_RECORDS_WRITTEN,
    MetricName.API_CALLS,
    MetricName.METRICS_REQUESTED,
    MetricName.GET_METRIC_DATA_REQUESTS,
)
