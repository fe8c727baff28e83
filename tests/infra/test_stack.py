"""CarbonMeterStack: the resources and permissions of the hourly pipeline."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from carbonmeter.settings import Settings
from infra.constants import (
    CALCULATOR_CONSUMER,
    COLLECTOR_CONSUMER,
    CUSTOMER_ROLE_PREFIX,
    DLQ_MAX_RECEIVE_COUNT,
    SCHEDULER_CONSUMER,
    VISIBILITY_TIMEOUT_FACTOR,
)
from tests.support.templates import (
    ALARM_EMAIL,
    actions_of,
    carbonmeter_functions,
    logical_id,
    resources_of,
    role_statements,
)

SETTINGS_FIELDS = ("connections_table", "usage_table", "emissions_table", "collect_queue_url", "calculate_queue_url")
DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
FOURTEEN_DAYS = 14 * 24 * 3600


def _resource_ids(template: Template, type_: str) -> list[str]:
    return list(template.find_resources(type_))


def _statements_with(statements: list[dict[str, Any]], action_prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements if any(a.startswith(action_prefix) for a in actions_of(s))]


def _grants(statements: list[dict[str, Any]], action_prefix: str) -> dict[str, set[str]]:
    """Resource logical id -> the actions starting with ``action_prefix`` granted on it."""
    granted: dict[str, set[str]] = {}
    for statement in _statements_with(statements, action_prefix):
        for resource in resources_of(statement):
            actions = {a for a in actions_of(statement) if a.startswith(action_prefix)}
            granted.setdefault(resource["Fn::GetAtt"][0], set()).update(actions)
    return granted


def test_every_function_runs_on_the_lambda_python_runtime_with_the_layer(template: Template) -> None:
    functions = carbonmeter_functions(template)
    layer_id = logical_id(template.find_resources("AWS::Lambda::LayerVersion"), "CarbonMeterLayer")

    assert {name.split("Function")[0] for name in functions} == {"Scheduler", "Collector", "Calculator", "Api"}
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.14", name
        assert properties["Architectures"] == ["arm64"], name
        # The package functions.<name>, as locally: a handler imports the modules beside it
        assert properties["Handler"] == f"functions.{name.split('Function')[0].lower()}.handler.handler", name
        assert properties["Layers"] == [{"Ref": layer_id}], name
        assert properties["TracingConfig"] == {"Mode": "Active"}, name
        assert "LogGroup" in properties["LoggingConfig"], name


def test_layer_declares_the_functions_runtime_and_architecture(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion", {"CompatibleRuntimes": ["python3.14"], "CompatibleArchitectures": ["arm64"]}
    )


def test_functions_get_powertools_settings_and_every_carbonmeter_setting(template: Template) -> None:
    for name, function in carbonmeter_functions(template).items():
        variables = function["Properties"]["Environment"]["Variables"]

        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "CarbonMeter", name
        assert variables["POWERTOOLS_SERVICE_NAME"].startswith("carbonmeter-"), name
        assert variables["POWERTOOLS_LOG_LEVEL"], name
        assert {Settings.env_name(field) for field in SETTINGS_FIELDS} <= variables.keys(), name


def test_function_log_groups_expire(template: Template) -> None:
    log_groups = template.find_resources("AWS::Logs::LogGroup")
    functions = template.find_resources("AWS::Lambda::Function").values()
    used = {function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for function in functions}

    # One per function (the web page deployment's too), and the HTTP API's access logs
    assert len(used) == len(functions)
    assert used | {logical_id(log_groups, "HttpApiAccessLogs")} == log_groups.keys()
    assert all(group["Properties"]["RetentionInDays"] > 0 for group in log_groups.values())


def test_function_roles_carry_no_managed_policies(template: Template) -> None:
    # AWSLambdaBasicExecutionRole would allow writing to every log group of the account.
    for name, role in template.find_resources("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], name


def test_the_page_claims_expire_and_go_with_the_stack(template: Template) -> None:
    # Powertools idempotency's own shape: "id" its key, "expiration" (epoch seconds) when DynamoDB deletes a claim
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")
    table = tables[logical_id(tables, "TablesIdempotency")]
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize(
    ("prefix", "key_schema"),
    [
        ("TablesConnections", [{"AttributeName": "connection_id", "KeyType": "HASH"}]),
        ("TablesUsage", [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]),
        (
            "TablesEmissions",
            [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        ),
    ],
)
def test_tables_are_on_demand_recoverable_encrypted_and_retained(
    template: Template, prefix: str, key_schema: list[dict[str, str]]
) -> None:
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")
    table = tables[logical_id(tables, prefix)]
    properties = table["Properties"]

    assert properties["KeySchema"] == key_schema
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"]["SSEEnabled"] is True
    (replica,) = properties["Replicas"]
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert replica["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_every_queue_is_encrypted_and_refuses_plain_http(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    policies = template.find_resources("AWS::SQS::QueuePolicy").values()
    insecure_denied = {
        policy["Properties"]["Queues"][0]["Ref"]
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    }

    # Three work queues (collect, calculate, the scheduler's pages), their dead-letter queues, and the scheduler's
    # dead-letter queue.
    assert len(queues) == 7
    assert all(queue["Properties"]["SqsManagedSseEnabled"] is True for queue in queues.values())
    assert insecure_denied == set(queues)


@pytest.mark.parametrize(
    ("queue", "consumer"),
    [("CollectQueue", "Collector"), ("CalculateQueue", "Calculator"), ("SchedulePagesQueue", "Scheduler")],
)
def test_work_queues_redrive_to_a_dead_letter_queue_and_outlast_their_consumer(
    template: Template, queue: str, consumer: str
) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    functions = template.find_resources("AWS::Lambda::Function")
    work_queue = queues[logical_id(queues, queue)]["Properties"]
    dead_letter_id = logical_id(queues, queue.replace("Queue", "DeadLetterQueue"))
    consumer_timeout = functions[logical_id(functions, f"{consumer}Function")]["Properties"]["Timeout"]

    assert work_queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_id, "Arn"]},
        "maxReceiveCount": DLQ_MAX_RECEIVE_COUNT,
    }
    assert queues[dead_letter_id]["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert work_queue["VisibilityTimeout"] == VISIBILITY_TIMEOUT_FACTOR * consumer_timeout == 6 * consumer_timeout


def test_failed_scheduler_runs_go_to_a_dead_letter_queue(template: Template) -> None:
    # Given EventBridge invokes the scheduler asynchronously, and Lambda retries a failed run twice
    functions = template.find_resources("AWS::Lambda::Function")
    queues = template.find_resources("AWS::SQS::Queue")
    dead_letters = queues[logical_id(queues, "SchedulerDeadLetterQueue")]["Properties"]
    dead_letter_config = {
        name.split("Function")[0]: f["Properties"].get("DeadLetterConfig") for name, f in functions.items()
    }

    # Then the event of a run that failed every retry is kept in its own queue for 14 days
    assert dead_letter_config["Scheduler"] == {
        "TargetArn": {"Fn::GetAtt": [logical_id(queues, "SchedulerDeadLetterQueue"), "Arn"]}
    }
    assert dead_letters["MessageRetentionPeriod"] == FOURTEEN_DAYS
    # The SQS consumers are invoked synchronously: their queues' redrive policies are their dead-letter queues.
    assert dead_letter_config["Collector"] is None
    assert dead_letter_config["Calculator"] is None


def test_no_function_reserves_concurrency_the_queues_cap_the_consumers(template: Template) -> None:
    # Checkov CKV_AWS_115 is accepted, not fixed (docs/security.md): this is what makes that safe.
    functions = template.find_resources("AWS::Lambda::Function")
    queues = template.find_resources("AWS::SQS::Queue")
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping").values()
    caps = {
        mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: mapping["Properties"]["ScalingConfig"][
            "MaximumConcurrency"
        ]
        for mapping in mappings
    }

    assert not [name for name, f in functions.items() if "ReservedConcurrentExecutions" in f["Properties"]]
    assert caps == {
        logical_id(queues, "CollectQueue"): COLLECTOR_CONSUMER.max_concurrency,
        logical_id(queues, "CalculateQueue"): CALCULATOR_CONSUMER.max_concurrency,
        logical_id(queues, "SchedulePagesQueue"): SCHEDULER_CONSUMER.max_concurrency,
    }


def test_scheduler_runs_every_hour(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    scheduler_id = logical_id(functions, "SchedulerFunction")

    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [scheduler_id, "Arn"]}})],
        },
    )


@pytest.mark.parametrize(
    ("queue", "consumer"),
    [("CollectQueue", "Collector"), ("CalculateQueue", "Calculator"), ("SchedulePagesQueue", "Scheduler")],
)
def test_consumers_report_partial_batch_failures(template: Template, queue: str, consumer: str) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    functions = template.find_resources("AWS::Lambda::Function")

    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [logical_id(queues, queue), "Arn"]},
            "FunctionName": {"Ref": logical_id(functions, f"{consumer}Function")},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": Match.any_value(),
            "ScalingConfig": {"MaximumConcurrency": Match.any_value()},
        },
    )


def test_collector_batches_are_small(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    mappings = template.find_resources(
        "AWS::Lambda::EventSourceMapping",
        {"Properties": {"EventSourceArn": {"Fn::GetAtt": [logical_id(queues, "CollectQueue"), "Arn"]}}},
    )

    (mapping,) = mappings.values()
    assert mapping["Properties"]["BatchSize"] <= 10


def test_collector_may_assume_only_carbonmeter_roles(template: Template) -> None:
    statements = _statements_with(role_statements(template, "CollectorRole"), "sts:")

    (statement,) = statements
    assert actions_of(statement) == ["sts:AssumeRole"]
    assert resources_of(statement) == [
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::*:role/{CUSTOMER_ROLE_PREFIX}*"]]}
    ]


def test_collector_records_usage_and_connection_status(template: Template) -> None:
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")
    writable = {
        resource["Fn::GetAtt"][0]
        for statement in role_statements(template, "CollectorRole")
        if DYNAMODB_WRITES & set(actions_of(statement))
        for resource in resources_of(statement)
    }

    assert writable == {logical_id(tables, "TablesUsage"), logical_id(tables, "TablesConnections")}


def test_scheduler_may_make_exactly_the_table_calls_of_its_runs(template: Template) -> None:
    # Given what the scheduler calls (carbonmeter.store): ConnectionStore.list scans the connections, a backfill
    # gets the connections it names, a page's StatusStore.between queries the usage table, and a page's claim
    # (Powertools idempotency) is put, read on a conflict, updated when planned and deleted when the page failed
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")

    # When its role's policy is read
    granted = _grants(role_statements(template, "SchedulerRole"), "dynamodb:")

    # Then it holds those calls and nothing else: no write, no other read
    assert granted == {
        logical_id(tables, "TablesConnections"): {"dynamodb:Scan", "dynamodb:GetItem"},
        logical_id(tables, "TablesUsage"): {"dynamodb:Query"},
        logical_id(tables, "TablesIdempotency"): {
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
    }


def test_scheduler_sends_jobs_and_pages_its_failed_runs_and_receives_its_pages_only(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    statements = role_statements(template, "SchedulerRole")

    assert _grants(statements, "sqs:") == {
        logical_id(queues, "CollectQueue"): {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
        # Hours whose calculation failed for good are queued for the calculator again.
        logical_id(queues, "CalculateQueue"): {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
        # Lambda sends a failed asynchronous invocation's event with the function's own role.
        logical_id(queues, "SchedulerDeadLetterQueue"): {"sqs:SendMessage"},
        # The hourly run sends its pages, and the page queue's event source receives them with the same role.
        logical_id(queues, "SchedulePagesQueue"): {
            "sqs:SendMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
        },
    }
    assert not _statements_with(statements, "sts:")


def test_calculator_cannot_assume_roles_and_only_marks_hour_statuses_in_usage(template: Template) -> None:
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")
    statements = role_statements(template, "CalculatorRole")
    writes: dict[str, set[str]] = {}
    for statement in statements:
        for resource in resources_of(statement):
            if not (isinstance(resource, dict) and "Fn::GetAtt" in resource):
                continue  # "*" (X-Ray) and the log group
            writes.setdefault(resource["Fn::GetAtt"][0], set()).update(DYNAMODB_WRITES & set(actions_of(statement)))

    assert not _statements_with(statements, "sts:")
    assert {table for table, actions in writes.items() if actions} == {
        logical_id(tables, "TablesEmissions"),
        logical_id(tables, "TablesUsage"),
    }
    # In the usage table it only updates an hour's status (calculated, or why not); it writes no usage record.
    assert writes[logical_id(tables, "TablesUsage")] == {"dynamodb:UpdateItem"}


def test_only_xray_is_granted_on_every_resource(template: Template) -> None:
    for role in ("SchedulerRole", "CollectorRole", "CalculatorRole"):
        unscoped = [s for s in role_statements(template, role) if "*" in resources_of(s)]

        assert [actions_of(s) for s in unscoped] == [["xray:PutTelemetryRecords", "xray:PutTraceSegments"]], role


@pytest.mark.parametrize(
    "dead_letter_queue", ["CollectDeadLetterQueue", "CalculateDeadLetterQueue", "SchedulerDeadLetterQueue"]
)
def test_a_message_in_a_dead_letter_queue_alarms_the_operator(template: Template, dead_letter_queue: str) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    topic_id = logical_id(template.find_resources("AWS::SNS::Topic"), "AlertsTopic")

    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id(queues, dead_letter_queue), "QueueName"]}}
            ],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "AlarmActions": [{"Ref": topic_id}],
        },
    )


def test_alarm_topic_is_encrypted_refuses_plain_http_and_mails_the_operator(template: Template) -> None:
    (topic_id,) = [i for i in _resource_ids(template, "AWS::SNS::Topic") if i.startswith("AlertsTopic")]

    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": ALARM_EMAIL, "TopicArn": {"Ref": topic_id}}
    )


def test_alarm_topic_key_lets_cloudwatch_publish(template: Template) -> None:
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            },
        },
    )


def test_outputs_tell_the_operator_how_to_configure_the_cli(template: Template) -> None:
    outputs = template.find_outputs("*")

    assert {output.get("Description") for output in outputs.values()} >= {
        Settings.env_name(field) for field in SETTINGS_FIELDS
    }


def test_the_collector_function_is_an_output_for_the_cli_to_ask_for_checks(template: Template) -> None:
    # customers' roles trust the collector's role alone: the CLI asks that function to check a connection
    (output,) = template.find_outputs("CollectorFunctionName").values()
    assert output["Description"] == Settings.env_name("collector_function_name")
    functions = template.find_resources("AWS::Lambda::Function")
    assert output["Value"] == {"Ref": logical_id(functions, "CollectorFunction")}
