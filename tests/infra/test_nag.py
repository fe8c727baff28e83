"""cdk-nag AWS Solutions checks: the app has no finding that was not acknowledged with a reason."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match

from infra.application import CarbonMeterApp
from infra.nag import acknowledge, annotate_findings, nag_findings


def _app_with_plain_queue() -> tuple[App, Stack]:
    app = App()
    stack = Stack(app, "Insecure")
    sqs.Queue(stack, "Queue", dead_letter_queue=None)
    return app, stack


@pytest.mark.parametrize("app_fixture", ["cdk_app", "cmk_app"])
def test_carbonmeter_app_has_no_unacknowledged_findings(request: pytest.FixtureRequest, app_fixture: str) -> None:
    # Both encryption modes: the customer managed key brings its own grants to check
    app: CarbonMeterApp = request.getfixturevalue(app_fixture)

    findings = nag_findings(app.app)

    assert findings == [], "\n".join(str(finding) for finding in findings)


def test_an_insecure_queue_is_reported() -> None:
    # Given a queue that accepts plain HTTP and has no dead-letter queue
    app, _ = _app_with_plain_queue()

    # When the app is checked
    rules = {finding.rule for finding in nag_findings(app)}

    # Then the check reports it, so an empty result above means something
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def test_an_acknowledged_finding_is_not_reported() -> None:
    app, stack = _app_with_plain_queue()
    acknowledge(stack.node.find_child("Queue"), "AwsSolutions-SQS3", "test: a queue without consumers")

    rules = {finding.rule for finding in nag_findings(app)}

    assert "AwsSolutions-SQS3" not in rules
    assert "AwsSolutions-SQS4" in rules


def test_findings_become_synth_errors_on_their_construct() -> None:
    app, stack = _app_with_plain_queue()

    annotate_findings(app, nag_findings(app))

    Annotations.from_stack(stack).has_error("/Insecure/Queue/Resource", Match.string_like_regexp("AwsSolutions-SQS4"))
