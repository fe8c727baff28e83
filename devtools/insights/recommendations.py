"""The demo report's recommendations: the few largest changes, and the region moves for information.

The demo holds 48 hours, fewer than the 14 days the recommendations read: they say so, and scale what there is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonmeter.insights import recommendations

if TYPE_CHECKING:
    # Not at run time: the package imports this module before it defines the context.
    from devtools.insights import InsightContext

# The demo's part stays short; `python -m carbonmeter recommendations` lists them all, with their assumptions.
SHOWN = 5
# moto draws instance and volume ids from a generator whose state depends on what the process seeded before, so
# the same demo names other ids in another process: the part names what the resource is instead.
_UNSTABLE_IDS = {"ec2": "an instance", "ebs": "a volume"}


def recommendations_part(context: InsightContext) -> str:
    found = recommendations.connection_recommendations(
        context.clients, context.settings, context.connection_id, context.end, now=context.end
    )
    body = recommendations.text(_without_unstable_ids(found), limit=SHOWN, assumptions=False)
    return "\n".join(
        [
            "Recommendations (each with its assumptions: python -m carbonmeter recommendations; "
            "docs/insights.md#recommendations)",
            body,
            f"read with {found.dynamodb_requests} DynamoDB requests",
        ]
    )


def _without_unstable_ids(found: recommendations.Recommendations) -> recommendations.Recommendations:
    named = [
        r.model_copy(update={"change": r.change.replace(r.resource_id, label)})
        if r.service is not None and (label := _UNSTABLE_IDS.get(r.service.value))
        else r
        for r in found.recommendations
    ]
    return found.model_copy(update={"recommendations": named})
