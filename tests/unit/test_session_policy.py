"""Role assumption: each session is scoped down to the read actions, and the ExternalId never leaks into errors.

STS is replaced by botocore's Stubber, so nothing leaves the process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from carbonmeter.aws import (
    SESSION_POLICY_MAX_CHARS,
    ClientFactory,
    RoleAssumptionError,
    assume_role,
    session_policy,
)
from carbonmeter.services import READ_ACTIONS, READ_RESOURCES
from carbonmeter.settings import Settings

ROLE_ARN = "arn:aws:iam::222222222222:role/CarbonMeterReadOnly"
EXTERNAL_ID = "s3cr3t-External-Id-for-acme"
SESSION_NAME = "CarbonMeterCollector"


@pytest.fixture
def factory() -> ClientFactory:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    return ClientFactory(session, settings=Settings(max_attempts=1))


@pytest.fixture
def sts(factory: ClientFactory) -> Iterator[Stubber]:
    with Stubber(factory.client("sts")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _credentials() -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIATESTTESTTESTTEST",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": datetime.now(UTC) + timedelta(hours=1),
        }
    }


def test_policy_allows_exactly_the_given_actions_on_every_resource() -> None:
    document = json.loads(session_policy(["ec2:DescribeInstances", "cloudwatch:GetMetricData"]))

    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["cloudwatch:GetMetricData", "ec2:DescribeInstances"], "Resource": "*"}
        ],
    }


def test_policy_for_every_read_action_fits_the_sts_limit() -> None:
    # Given every action the collectors call, on the resources they are limited to
    text = session_policy(READ_ACTIONS, READ_RESOURCES)

    # Then STS accepts it, with room for more services (a quarter of the limit, about ten services' worth at the
    # 40-odd characters an action takes), and it grants nothing else
    assert len(text) <= SESSION_POLICY_MAX_CHARS * 3 // 4
    statements = json.loads(text)["Statement"]
    actions = [action for statement in statements for action in statement["Action"]]
    assert sorted(actions) == sorted(READ_ACTIONS)
    assert all(":" in action and not action.endswith(":*") for action in actions)
    # and each limited action is allowed on its resources alone, the others on every resource
    for statement in statements:
        (limited,) = statement["Action"] if statement["Resource"] != "*" else (None,)
        assert statement["Resource"] == (sorted(READ_RESOURCES[limited]) if limited else "*")


def test_a_limited_action_gets_a_statement_of_its_own_on_its_resources() -> None:
    document = json.loads(
        session_policy(["apigateway:GET", "ec2:DescribeInstances"], {"apigateway:GET": ["arn:*:apigateway:*::/apis"]})
    )

    assert document["Statement"] == [
        {"Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["apigateway:GET"], "Resource": ["arn:*:apigateway:*::/apis"]},
    ]


def test_api_gateway_reads_only_its_api_and_stage_listings() -> None:
    # GET on "*" would also read API keys' values (GET /apikeys?includeValues=true) and export whole APIs
    assert READ_RESOURCES["apigateway:GET"] == (
        "arn:*:apigateway:*::/apis",
        "arn:*:apigateway:*::/restapis",
        "arn:*:apigateway:*::/restapis/*/stages",
    )


def test_policy_too_long_for_sts_is_refused_before_calling_it() -> None:
    actions = [f"ec2:DescribeSomething{index:04d}" for index in range(100)]

    with pytest.raises(ValueError, match=f"at most {SESSION_POLICY_MAX_CHARS}"):
        session_policy(actions)


def test_policy_with_no_action_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one action"):
        session_policy([])


def test_session_actions_are_sent_as_the_session_policy(factory: ClientFactory, sts: Stubber) -> None:
    # Given STS expecting the ExternalId and the scoped-down policy
    sts.add_response(
        "assume_role",
        _credentials(),
        {
            "RoleArn": ROLE_ARN,
            "RoleSessionName": SESSION_NAME,
            "DurationSeconds": 3600,
            "ExternalId": EXTERNAL_ID,
            "Policy": session_policy(READ_ACTIONS, READ_RESOURCES),
        },
    )

    # When the role is assumed with the read actions, on their resources
    customer = assume_role(
        factory, ROLE_ARN, EXTERNAL_ID, SESSION_NAME, session_actions=READ_ACTIONS, session_resources=READ_RESOURCES
    )

    # Then the new factory holds the temporary credentials
    credentials = customer.session.get_credentials()
    assert credentials is not None
    assert credentials.access_key == "ASIATESTTESTTESTTEST"


def test_without_session_actions_no_policy_is_sent(factory: ClientFactory, sts: Stubber) -> None:
    sts.add_response(
        "assume_role",
        _credentials(),
        {"RoleArn": ROLE_ARN, "RoleSessionName": SESSION_NAME, "DurationSeconds": 3600, "ExternalId": EXTERNAL_ID},
    )

    assume_role(factory, ROLE_ARN, EXTERNAL_ID, SESSION_NAME)


def test_refusal_names_the_role_and_the_reason_but_not_the_external_id(factory: ClientFactory, sts: Stubber) -> None:
    # Given STS refusing with a message that quotes what it was sent
    sts.add_client_error(
        "assume_role",
        service_error_code="AccessDenied",
        service_message=f"not authorized with ExternalId {EXTERNAL_ID}",
        http_status_code=403,
    )

    # When the role is assumed
    with pytest.raises(RoleAssumptionError) as raised:
        assume_role(factory, ROLE_ARN, EXTERNAL_ID, SESSION_NAME, session_actions=READ_ACTIONS)

    # Then the error says which role and why, and nothing in its chain holds the secret
    message = str(raised.value)
    assert ROLE_ARN in message
    assert "AccessDenied" in message
    assert EXTERNAL_ID not in message
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None


def test_client_side_failure_does_not_leak_the_external_id() -> None:
    # Given botocore failing before sending, with an error that quotes the parameter's value
    def reject(params: dict[str, Any], **_: Any) -> None:
        raise ParamValidationError(report=f"Invalid value for parameter ExternalId, value: {params['ExternalId']}")

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    factory = ClientFactory(session, hooks=[("provide-client-params.sts.AssumeRole", reject)])

    # When the role is assumed
    with pytest.raises(RoleAssumptionError) as raised:
        assume_role(factory, ROLE_ARN, EXTERNAL_ID, SESSION_NAME)

    # Then the reason survives with the secret masked, and no chained exception carries it
    assert "Invalid value for parameter ExternalId" in str(raised.value)
    assert EXTERNAL_ID not in str(raised.value)
    assert raised.value.__context__ is None
