"""What moto's CloudWatch leaves out: the GetMetricData limits the real one enforces, and its pagination.

The ``enforce_cloudwatch_limits`` fixture (``tests/conftest.py``) puts a ``CloudWatchLimits`` on every boto3
session a test creates; ``GetMetricDataPager`` gives a client factory the hooks that cut responses into pages.
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

from botocore.awsrequest import AWSResponse

from carbonmeter.aws import EventHook
from carbonmeter.cloudwatch import MAX_QUERIES_PER_REQUEST

_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_GET_METRIC_DATA_PARAMS = "before-parameter-build.cloudwatch.GetMetricData"


class CloudWatchLimitExceeded(AssertionError):
    """A GetMetricData request that the real CloudWatch would reject."""


class CloudWatchLimits:
    """Checks every GetMetricData request against the limits moto does not enforce."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.query_counts: list[int] = []

    @property
    def hook(self) -> EventHook:
        """The check as a ClientFactory hook, for clients built outside the fixture's reach."""
        return (_GET_METRIC_DATA_PARAMS, self.check)

    def check(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("NextToken"):
            return  # a later page repeats the first page's queries, already checked
        queries = params.get("MetricDataQueries", [])
        self.query_counts.append(len(queries))
        ids = [query.get("Id", "") for query in queries]
        problems = []
        if not 1 <= len(queries) <= MAX_QUERIES_PER_REQUEST:
            problems.append(f"{len(queries)} MetricDataQueries (CloudWatch accepts 1 to {MAX_QUERIES_PER_REQUEST})")
        if bad := [query_id for query_id in ids if not _QUERY_ID.match(query_id)]:
            problems.append(f"invalid query Ids {bad[:5]}")
        if len(set(ids)) != len(ids):
            problems.append("repeated query Ids")
        if problems:
            self.violations.extend(problems)
            raise CloudWatchLimitExceeded("GetMetricData request rejected: " + "; ".join(problems))


class GetMetricDataPager:
    """Makes the embedded CloudWatch paginate GetMetricData the way the real one does.

    moto answers every request in one page. With these hooks a response holds at most
    ``max_datapoints`` values across all its results; the rest comes back, page by page,
    to requests carrying the NextToken, and cut results say ``PartialData``.
    """

    def __init__(self, max_datapoints: int) -> None:
        self.max_datapoints = max_datapoints
        self.pages_served = 0
        self._remainders: dict[str, dict[str, Any]] = {}

    def hooks(self) -> list[EventHook]:
        return [
            ("before-parameter-build.cloudwatch.GetMetricData", self._remember_token),
            # Registered on the generic event so that call counters, registered before it, still see the page.
            ("before-call", self._serve_remainder),
            ("after-call.cloudwatch.GetMetricData", self._cut_page),
        ]

    def _remember_token(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["pager_token"] = params.get("NextToken")

    def _serve_remainder(
        self, model: Any, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        token = context.get("pager_token")
        if model.name != "GetMetricData" or not token:
            return None
        remainder = self._remainders.pop(token)
        return AWSResponse("https://monitoring.invalid/", 200, {}, None), remainder

    def _cut_page(self, parsed: dict[str, Any], **_: Any) -> None:
        self.pages_served += 1
        budget = self.max_datapoints
        remainder = copy.deepcopy(parsed)
        for kept, rest in zip(parsed["MetricDataResults"], remainder["MetricDataResults"], strict=True):
            count = min(budget, len(kept.get("Values", [])))
            budget -= count
            for field in ("Values", "Timestamps"):
                kept[field], rest[field] = kept.get(field, [])[:count], kept.get(field, [])[count:]
            kept["StatusCode"] = "PartialData" if rest["Values"] else "Complete"
        remainder["MetricDataResults"] = [result for result in remainder["MetricDataResults"] if result["Values"]]
        parsed.pop("NextToken", None)
        if remainder["MetricDataResults"]:
            token = uuid.uuid4().hex
            self._remainders[token] = remainder
            parsed["NextToken"] = token
