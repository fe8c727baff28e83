"""The DynamoDB tables: connections, hourly usage and emissions, and the scheduler's page claims."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.constants import TABLES, TableSpec

_STRING = dynamodb.AttributeType.STRING
# What the CDK's own read grants give on a table's customer managed key.
_KEY_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
# And its write grants.
_KEY_WRITE_ACTIONS = (*_KEY_READ_ACTIONS, "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")


def _table(scope: Construct, spec: TableSpec, key: kms.IKey | None) -> dynamodb.TableV2:
    return dynamodb.TableV2(
        scope,
        spec.construct_id,
        partition_key=dynamodb.Attribute(name=spec.partition_key, type=_STRING),
        sort_key=dynamodb.Attribute(name=spec.sort_key, type=_STRING) if spec.sort_key else None,
        billing=dynamodb.Billing.on_demand(),
        encryption=(
            dynamodb.TableEncryptionV2.customer_managed_key(key)
            if key
            else dynamodb.TableEncryptionV2.aws_managed_key()
        ),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=spec.time_to_live,
        deletion_protection=spec.retained,
        # Measurements are the product; losing them with a stack must never happen by accident.
        removal_policy=RemovalPolicy.RETAIN if spec.retained else RemovalPolicy.DESTROY,
    )


class Tables(Construct):
    """The tables, encrypted with ``key`` when given, else with DynamoDB's AWS managed key."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        by_setting = {spec.settings_field: _table(self, spec, key) for spec in TABLES}
        self.connections = by_setting["connections_table"]
        self.usage = by_setting["usage_table"]
        self.emissions = by_setting["emissions_table"]
        self.idempotency = by_setting["idempotency_table"]


def grant_reads(table: dynamodb.TableV2, grantee: iam.IGrantable, *actions: str) -> None:
    """Exactly the read ``actions`` on ``table``, for a function that needs less than ``grant_read_data``.

    ``TableV2.grant`` leaves the table's key out; with a customer managed key a reader needs it too, so this
    grants the key actions ``grant_read_data`` would.
    """
    _grant(table, grantee, actions, _KEY_READ_ACTIONS)


def grant_item_writes(table: dynamodb.TableV2, grantee: iam.IGrantable, *actions: str) -> None:
    """Exactly the item ``actions`` (reads and writes) on ``table``, with its key's write actions if it has one."""
    _grant(table, grantee, actions, _KEY_WRITE_ACTIONS)


def _grant(
    table: dynamodb.TableV2, grantee: iam.IGrantable, actions: tuple[str, ...], key_actions: tuple[str, ...]
) -> None:
    table.grant(grantee, *actions)
    if table.encryption_key is not None:
        table.encryption_key.grant(grantee, *key_actions)
