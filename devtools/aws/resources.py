"""CarbonMeter's own tables and queues, created on the embedded AWS as the CDK stack creates them in the cloud."""

from __future__ import annotations

import json
from typing import Any

from carbonmeter.aws import ClientFactory
from carbonmeter.settings import Settings
from infra.constants import (
    ANOMALY_TOPIC_DISPLAY_NAME,
    ANOMALY_TOPIC_SETTINGS_FIELD,
    DLQ_MAX_RECEIVE_COUNT,
    DLQ_RETENTION,
    TABLES,
    TableSpec,
)

COLLECT_QUEUE = "carbonmeter-collect"
CALCULATE_QUEUE = "carbonmeter-calculate"
PAGE_QUEUE = "carbonmeter-schedule-pages"
ANOMALY_TOPIC = "carbonmeter-anomalies"
DEAD_LETTER_SUFFIX = "-dlq"
# As in the stack (infra/constants.py): a message that failed three receives is parked for inspection.
MAX_RECEIVE_COUNT = DLQ_MAX_RECEIVE_COUNT
DEAD_LETTER_RETENTION_SECONDS = int(DLQ_RETENTION.to_seconds())


def create_resources(clients: ClientFactory, settings: Settings) -> Settings:
    """Create the tables, queues and anomaly topic (existing ones are kept); return ``settings`` locating them."""
    dynamodb = clients.client("dynamodb", settings.region)
    for spec in TABLES:
        _create_table(dynamodb, str(getattr(settings, spec.settings_field)), spec)
    sqs = clients.client("sqs", settings.region)
    return settings.model_copy(
        update={
            "collect_queue_url": _create_queue_with_dead_letters(sqs, COLLECT_QUEUE),
            "calculate_queue_url": _create_queue_with_dead_letters(sqs, CALCULATE_QUEUE),
            "page_queue_url": _create_queue_with_dead_letters(sqs, PAGE_QUEUE),
            ANOMALY_TOPIC_SETTINGS_FIELD: _create_topic(clients.client("sns", settings.region)),
        }
    )


def _create_table(dynamodb: Any, name: str, spec: TableSpec) -> None:
    attributes = [spec.partition_key] if spec.sort_key is None else [spec.partition_key, spec.sort_key]
    key_types = ["HASH", "RANGE"]
    try:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in zip(attributes, key_types, strict=False)],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes],
            BillingMode="PAY_PER_REQUEST",
        )
    except dynamodb.exceptions.ResourceInUseException:
        return
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if spec.time_to_live:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.time_to_live}
        )


def _create_queue_with_dead_letters(sqs: Any, name: str) -> str:
    dead_letters_url = sqs.create_queue(
        QueueName=name + DEAD_LETTER_SUFFIX,
        Attributes={"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS)},
    )["QueueUrl"]
    dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    url: str = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(redrive)})["QueueUrl"]
    return url


def _create_topic(sns: Any) -> str:
    # CreateTopic is idempotent: the same name gives the same topic.
    attributes = {"DisplayName": ANOMALY_TOPIC_DISPLAY_NAME}
    arn: str = sns.create_topic(Name=ANOMALY_TOPIC, Attributes=attributes)["TopicArn"]
    return arn
