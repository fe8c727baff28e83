"""The IAM evaluator the local pipeline enforces the deployed policies with."""

from __future__ import annotations

import pytest

from devtools.aws.iam.intrinsics import Bindings, resolve
from devtools.aws.iam.policy import Policy, UnsupportedPolicyError, glob_match
from devtools.aws.iam.requests import Access, access_denied_code, iam_action, required_access

TABLE = "arn:aws:dynamodb:eu-west-1:111122223333:table/usage"


def _policy(*statements: dict) -> Policy:
    return Policy.of([{"Version": "2012-10-17", "Statement": list(statements)}])


def test_an_action_is_allowed_only_on_the_resources_granted():
    policy = _policy({"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": TABLE})
    assert policy.allows("dynamodb:Query", TABLE)
    assert not policy.allows("dynamodb:Query", TABLE.replace("usage", "connections"))
    assert not policy.allows("dynamodb:Scan", TABLE)
    # an index is a resource of its own
    assert not policy.allows("dynamodb:Query", f"{TABLE}/index/by-hour")


def test_actions_match_case_insensitively_and_resources_case_sensitively():
    policy = _policy({"Effect": "Allow", "Action": "DynamoDB:query", "Resource": TABLE})
    assert policy.allows("dynamodb:Query", TABLE)
    assert not policy.allows("dynamodb:Query", TABLE.upper())


def test_wildcards_are_star_and_question_mark_only():
    assert glob_match("arn:aws:iam::*:role/CarbonMeter*", "arn:aws:iam::111122223333:role/CarbonMeterReadOnly")
    assert glob_match("secret:key-??????", "secret:key-AbCdEf")
    assert not glob_match("secret:key-??????", "secret:key-AbCdE")
    # a dot is a dot, not "any character"
    assert not glob_match("table/a.b", "table/aXb")


def test_an_explicit_deny_wins_over_any_allow():
    policy = _policy(
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "sqs:DeleteMessage", "Resource": "*"},
    )
    assert policy.allows("sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:q")
    assert not policy.allows("sqs:DeleteMessage", "arn:aws:sqs:eu-west-1:1:q")


def test_a_failed_condition_makes_an_allow_not_apply():
    trust = _policy(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/carbonmeter-collector"},
            "Condition": {"StringEquals": {"sts:ExternalId": "s3cr3t-value"}},
        }
    )
    collector = "arn:aws:iam::111122223333:role/carbonmeter-collector"
    values = {"sts:ExternalId": "s3cr3t-value"}
    assert trust.allows("sts:AssumeRole", None, principal=collector, context=values)
    assert not trust.allows("sts:AssumeRole", None, principal=collector, context={"sts:ExternalId": "other"})
    assert not trust.allows("sts:AssumeRole", None, principal=collector)
    other = "arn:aws:iam::111122223333:role/someone-else"
    assert not trust.allows("sts:AssumeRole", None, principal=other, context=values)


def test_an_account_root_principal_stands_for_every_principal_of_that_account():
    trust = _policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
    )
    assert trust.allows("sts:AssumeRole", None, principal="arn:aws:iam::111122223333:role/anything")
    assert not trust.allows("sts:AssumeRole", None, principal="arn:aws:iam::444455556666:role/anything")


def test_a_policy_with_an_unknown_condition_operator_is_refused_not_guessed():
    with pytest.raises(UnsupportedPolicyError):
        _policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "1"}}}
        )


def test_calls_are_named_by_their_iam_action():
    assert iam_action("monitoring", "GetMetricData") == "cloudwatch:GetMetricData"
    assert iam_action("s3", "ListBuckets") == "s3:ListAllMyBuckets"
    assert iam_action("sqs", "SendMessageBatch") == "sqs:SendMessage"
    assert access_denied_code("ec2:DescribeVolumes") == "UnauthorizedOperation"
    assert access_denied_code("sts:AssumeRole") == "AccessDenied"


def test_calls_name_the_resources_they_act_on():
    batch = required_access(
        "dynamodb", "BatchWriteItem", {"RequestItems": {"usage": [], "emissions": []}}, "eu-west-1", "111122223333"
    )
    assert batch == [
        Access("dynamodb:BatchWriteItem", TABLE),
        Access("dynamodb:BatchWriteItem", TABLE.replace("usage", "emissions")),
    ]
    queue = required_access(
        "sqs", "SendMessageBatch", {"QueueUrl": "http://127.0.0.1:5000/111122223333/collect"}, "eu-west-1", "1"
    )
    assert queue == [Access("sqs:SendMessage", "arn:aws:sqs:eu-west-1:111122223333:collect")]
    assert required_access("ec2", "DescribeInstances", {}, "eu-west-1", "1") == [Access("ec2:DescribeInstances", "*")]
    assert required_access("sts", "GetCallerIdentity", {}, "eu-west-1", "1") == []


def test_api_gateway_calls_are_its_get_on_the_path_they_read():
    # Both API Gateway clients sign as apigateway; IAM names each read GET, on the management API's path
    assert required_access("apigateway", "GetRestApis", {"limit": 500}, "eu-west-1", "1") == [
        Access("apigateway:GET", "arn:aws:apigateway:eu-west-1::/restapis")
    ]
    assert required_access("apigateway", "GetStages", {"restApiId": "a1b2c3"}, "eu-west-1", "1") == [
        Access("apigateway:GET", "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/stages")
    ]
    assert required_access("apigateway", "GetApis", {}, "eu-west-1", "1") == [
        Access("apigateway:GET", "arn:aws:apigateway:eu-west-1::/apis")
    ]
    assert access_denied_code("apigateway:GET") == "AccessDeniedException"


def test_template_references_resolve_to_the_local_resources():
    bindings = Bindings(
        "aws", "eu-west-1", "111122223333", refs={"Usage": "usage"}, attributes={("Usage", "Arn"): TABLE}
    )
    statement = {
        "Resource": [
            {"Fn::GetAtt": ["Usage", "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": ["Usage", "Arn"]}, "/index/*"]]},
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"},
            {"Fn::GetAtt": ["LogGroup", "Arn"]},
        ]
    }
    resolved = resolve(statement, bindings)["Resource"]
    assert resolved[:3] == [TABLE, f"{TABLE}/index/*", "arn:aws:iam::111122223333:role/x"]
    # a resource the local pipeline does not create can never match a call
    assert resolved[3].startswith("unresolved")
