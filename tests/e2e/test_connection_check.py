"""``connections add`` and ``connections test`` ask the deployed collector to check a role, under its IAM policy.

A customer's role trusts the collector's role alone, so the operator's CLI cannot assume it itself: it invokes the
collector function, which checks. Lambda's Invoke is answered here by the real collector handler, run as the local
pipeline runs it (its own credentials, its deployed policy enforced on every call, the customer role's too).
"""

from __future__ import annotations

import functools
import io
import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from carbonmeter import cli
from carbonmeter.aws import ClientFactory, EventHook
from carbonmeter.store import ConnectionStore
from devtools.aws.lambda_events import LambdaContext
from tests.support.local_cloud import LocalCloud

COLLECTOR = "carbonmeter-collector"


def _collector_answers_invoke(cloud: LocalCloud, invoked: list[dict[str, Any]]) -> EventHook:
    """Lambda's Invoke of the collector, answered by its handler under its deployed policy."""

    def invoke(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        event = json.loads(params["body"])
        invoked.append(event)
        context = LambdaContext(function_name=COLLECTOR, account_id=cloud.account.account_id)
        try:
            with cloud.pipeline.running_as("collector"):
                answer, error = cloud.pipeline.collector(event, context), None
        except Exception as exc:  # Lambda reports an unhandled error in the payload, with FunctionError set
            answer, error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}, "Unhandled"
        body = json.dumps(answer).encode()
        parsed: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
        if error:
            parsed["FunctionError"] = error
        return AWSResponse("https://lambda.invalid/", 200, {}, None), parsed

    return ("before-call.lambda.Invoke", invoke)


@pytest.fixture
def deployed(local_cloud, monkeypatch):
    """A seeded account, and a CLI configured with the deployed collector's name."""
    cloud = local_cloud(hours=1)
    invoked: list[dict[str, Any]] = []
    monkeypatch.setenv(cli.COLLECTOR_FUNCTION_ENV, COLLECTOR)
    monkeypatch.delenv(cli.EXTERNAL_ID_ENV, raising=False)
    hooks = [_collector_answers_invoke(cloud, invoked)]
    monkeypatch.setattr(cli, "ClientFactory", functools.partial(ClientFactory, hooks=hooks))
    return cloud, invoked


def _add(cloud: LocalCloud, *extra: str) -> int:
    return cli.main(
        ["connections", "add", "--connection-id", "checked", "--role-arn", cloud.account.role_arn,
         "--external-id", cloud.account.external_id, "--regions", ",".join(cloud.account.regions), *extra]
    )  # fmt: skip


def test_add_and_test_ask_the_collector_which_may_assume_the_role(deployed, capsys):
    cloud, invoked = deployed
    # When a connection is added with the collector's name configured
    assert _add(cloud) == 0
    captured = capsys.readouterr()
    # Then the collector was asked, once, and the connection stored after its check passed
    assert f"checking {cloud.account.role_arn}: asking {COLLECTOR} to assume it" in captured.err
    assert "checked: assumed the role with its ExternalId and read 3 region(s)" in captured.out
    assert [list(event) for event in invoked] == [["check_access"]]
    assert ConnectionStore(cloud.clients, cloud.settings.connections_table).get("checked").enabled
    # And the collector's calls were all allowed by its deployed policy and the customer role's: the assumption,
    # then one read per region with the assumed role's credentials
    guard = cloud.pipeline.guard
    assert guard.denials == []
    actions = [action for (_, action, _), count in guard.allowed.items() for _ in range(count)]
    assert actions.count("sts:AssumeRole") == 1
    assert actions.count("ec2:DescribeInstances") == len(cloud.account.regions)
    # And the answer the CLI shows never holds the ExternalId
    assert cloud.account.external_id not in captured.out + captured.err
    # When the stored connection is tested, the collector is asked again, and each region is said to work
    assert cli.main(["connections", "test", "checked"]) == 0
    rows = capsys.readouterr().out.splitlines()[3:]
    assert sorted(row.split()[0] for row in rows) == sorted(cloud.account.regions)
    assert all(row.split()[1] == "ok" for row in rows)
    assert len(invoked) == 2
