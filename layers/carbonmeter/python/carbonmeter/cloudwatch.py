"""CloudWatch GetMetricData query planning and batching.

GetMetricData is billed per metric requested, not per call, and accepts at most
500 queries a request; queries in one request share one window and we keep one
period per request, so the plan groups by (period, window) and cuts each group
into chunks of 500: ceil(Q/500) requests for Q queries, no more.

Requests for the same series whose windows touch or overlap (the same metric over
consecutive hours, say) are read as one query over the joined window and split
back by timestamp, so a multi-hour estimate pays for each metric once, not once
an hour.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from carbonmeter.aws import ApiCallCounter
from carbonmeter.rate_limit import TokenBucket

MAX_QUERIES_PER_REQUEST = 500

# GetMetricData bills per metric requested (its price: carbonmeter/data/cloudwatch-prices.json), and one metric may
# carry up to five statistics in a request.
STATISTICS_PER_BILLED_METRIC = 5

_FAILED_STATUSES = frozenset({"Forbidden", "InternalError"})

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricRequest:
    """One metric statistic over one window at one period."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int
    start: datetime
    end: datetime


class MetricDataError(RuntimeError):
    """CloudWatch refused or failed to return data for some queries."""


def plan(requests: Iterable[MetricRequest]) -> list[list[MetricRequest]]:
    """The GetMetricData requests needed for ``requests``: fewest possible, each one window and period.

    Duplicates are dropped. Inside a group the statistics of one metric sit side by side so
    that they land in the same request, where up to five of them are billed once.
    """
    groups: defaultdict[tuple[int, datetime, datetime], set[MetricRequest]] = defaultdict(set)
    for request in requests:
        groups[(request.period, request.start, request.end)].add(request)
    batches: list[list[MetricRequest]] = []
    for key in sorted(groups):
        ordered = sorted(groups[key], key=_metric_order)
        batches.extend(
            ordered[index : index + MAX_QUERIES_PER_REQUEST]
            for index in range(0, len(ordered), MAX_QUERIES_PER_REQUEST)
        )
    return batches


def billed_metrics(batch: Sequence[MetricRequest]) -> int:
    """Metrics CloudWatch bills for one GetMetricData request (later NextToken pages are free)."""
    stats_per_metric = Counter((request.namespace, request.metric_name, request.dimensions) for request in batch)
    return sum(math.ceil(stats / STATISTICS_PER_BILLED_METRIC) for stats in stats_per_metric.values())


def query_id(index: int) -> str:
    """A query Id valid for GetMetricData (``^[a-z][a-zA-Z0-9_]*$``), unique within a request."""
    return f"q{index}"


def queries(batch: Sequence[MetricRequest]) -> list[dict[str, Any]]:
    """The MetricDataQueries of one planned request, Ids numbered in batch order."""
    return [
        {
            "Id": query_id(index),
            "MetricStat": {
                "Metric": {
                    "Namespace": request.namespace,
                    "MetricName": request.metric_name,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in request.dimensions],
                },
                "Period": request.period,
                "Stat": request.stat,
            },
            "ReturnData": True,
        }
        for index, request in enumerate(batch)
    ]


Datapoint = tuple[datetime, float]


def fetch(
    client: Any, requests: Iterable[MetricRequest], counter: ApiCallCounter, limiter: TokenBucket | None = None
) -> dict[MetricRequest, list[float]]:
    """Values of every request, newest first; an empty list where CloudWatch has no data.

    With a ``limiter``, every GetMetricData request (each page too) waits for its slot in it first: the account's
    and region's bucket (``rate_limit``), which every connection of the container collecting them shares.

    Each request's windows must be aligned to its period (hourly windows on the hour,
    daily ones at midnight), so that a datapoint of a joined window falls in exactly the
    request windows its timestamp says.

    Raises ``MetricDataError`` when CloudWatch reports Forbidden or InternalError for any query.
    """
    spans = joined_windows(requests)
    series = _fetch_series(client, set(spans.values()), counter, limiter)
    return {
        request: [value for timestamp, value in series[span] if request.start <= timestamp < request.end]
        for request, span in spans.items()
    }


def joined_windows(requests: Iterable[MetricRequest]) -> dict[MetricRequest, MetricRequest]:
    """Each request mapped to the request over the joined window of its series that contains it."""
    by_series: defaultdict[tuple[str, str, tuple[tuple[str, str], ...], str, int], list[MetricRequest]]
    by_series = defaultdict(list)
    for request in set(requests):
        by_series[(*_metric_order(request), request.period)].append(request)
    spans: dict[MetricRequest, MetricRequest] = {}
    for members in by_series.values():
        members.sort(key=lambda request: (request.start, request.end))
        group: list[MetricRequest] = []
        for request in members:
            if group and request.start > max(member.end for member in group):
                spans.update(_join(group))
                group = []
            group.append(request)
        spans.update(_join(group))
    return spans


def _join(group: Sequence[MetricRequest]) -> dict[MetricRequest, MetricRequest]:
    if len(group) == 1:
        return {group[0]: group[0]}  # one window, nothing to join: the usual case of a one-hour collection
    joined = replace(group[0], start=min(r.start for r in group), end=max(r.end for r in group))
    return dict.fromkeys(group, joined)


def _fetch_series(
    client: Any, requests: Iterable[MetricRequest], counter: ApiCallCounter, limiter: TokenBucket | None
) -> dict[MetricRequest, list[Datapoint]]:
    batches = plan(requests)
    series: dict[MetricRequest, list[Datapoint]] = {request: [] for batch in batches for request in batch}
    paginator = client.get_paginator("get_metric_data")
    for batch in batches:
        _fetch_batch(paginator, batch, series, counter, limiter)
    return series


def _fetch_batch(
    paginator: Any,
    batch: Sequence[MetricRequest],
    series: dict[MetricRequest, list[Datapoint]],
    counter: ApiCallCounter,
    limiter: TokenBucket | None,
) -> None:
    by_id = {query_id(index): request for index, request in enumerate(batch)}
    first = batch[0]
    incomplete: set[str] = set()
    pages = paginator.paginate(
        MetricDataQueries=queries(batch), StartTime=first.start, EndTime=first.end, ScanBy="TimestampDescending"
    )
    # The paginator sends a request when asked for a page: the first one, then one per NextToken.
    _pace(limiter)
    for page_number, page in enumerate(pages):
        if page_number == 0:
            # Billed once the request is answered, whatever its messages say; later pages are free.
            counter.add_metrics_requested(billed_metrics(batch))
        _raise_for_messages(page.get("Messages", []), "request")
        for result in page.get("MetricDataResults", []):
            request = by_id[result["Id"]]
            status = result.get("StatusCode", "Complete")
            if result.get("Messages"):
                _raise_for_messages(result["Messages"], _describe(request))
            if status in _FAILED_STATUSES:
                raise MetricDataError(f"GetMetricData returned {status} for {_describe(request)}")
            points = zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
            series[request].extend((timestamp, float(value)) for timestamp, value in points)
            # PartialData means "more on the next page"; only a last page that says so is a gap.
            if status == "PartialData":
                incomplete.add(result["Id"])
            else:
                incomplete.discard(result["Id"])
        if page.get("NextToken"):
            _pace(limiter)
    for query in sorted(incomplete):
        logger.warning("GetMetricData left %s incomplete after the last page", _describe(by_id[query]))


def _pace(limiter: TokenBucket | None) -> None:
    if limiter is not None:
        limiter.acquire()


def _raise_for_messages(messages: Iterable[Mapping[str, str]], subject: str) -> None:
    for message in messages:
        if message.get("Code") in _FAILED_STATUSES:
            raise MetricDataError(f"GetMetricData {message['Code']} for {subject}: {message.get('Value', '')}")


def _describe(request: MetricRequest) -> str:
    dimensions = ",".join(f"{name}={value}" for name, value in request.dimensions)
    return f"{request.namespace} {request.metric_name} {request.stat} [{dimensions}]"


def _metric_order(request: MetricRequest) -> tuple[str, str, tuple[tuple[str, str], ...], str]:
    return (request.namespace, request.metric_name, request.dimensions, request.stat)
