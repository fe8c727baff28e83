"""Launch, stop, termination and creation times on the embedded AWS, set at moto's backends.

Moto stamps an instance's LaunchTime, a stop's or termination's StateTransitionReason, an EBS volume's CreateTime, an
RDS instance's InstanceCreateTime, an S3 bucket's CreationDate, and the creation times of ElastiCache clusters,
DynamoDB tables, Redshift clusters, ECS services, EKS clusters and API Gateway APIs (and the workbench's own
serverless caches and workgroups) with the time of the call, and no API lets a caller give another; an ECS
service's createdAt moto gives only once set here. The workbench's fleets and tests live in hours of the past,
so they set the times those hours need here (in-process: the embedded server's backends are this process's).
``forget_instance`` does what AWS does about an hour after a termination: DescribeInstances no longer lists the
instance.
"""

from __future__ import annotations

from datetime import UTC, datetime

from moto.apigateway.models import apigateway_backends
from moto.apigatewayv2.models import apigatewayv2_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.ec2.models import ec2_backends
from moto.ecs.models import ecs_backends
from moto.eks.models import eks_backends
from moto.elasticache.models import elasticache_backends
from moto.rds.models import rds_backends
from moto.redshift.models import redshift_backends
from moto.s3.models import s3_backends

from devtools.aws.elasticache_serverless import set_caches_created
from devtools.aws.redshift_serverless import set_workgroups_created


def set_launch_time(region: str, instance_id: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    ec2_backends[account_id][region].get_instance(instance_id).launch_time = _utc(when)


def set_ended(region: str, instance_id: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """The stopped or terminated instance's StateTransitionReason says it ended at ``when``, as AWS words it."""
    instance = ec2_backends[account_id][region].get_instance(instance_id)
    instance._reason = f"User initiated ({_utc(when).strftime('%Y-%m-%d %H:%M:%S')} GMT)"


def forget_instance(region: str, instance_id: str, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """DescribeInstances no longer lists the instance (AWS: about an hour after its termination)."""
    for reservation in ec2_backends[account_id][region].reservations.values():
        reservation.instances = [instance for instance in reservation.instances if instance.id != instance_id]


def set_volume_created(region: str, volume_id: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    ec2_backends[account_id][region].get_volume(volume_id).create_time = _utc(when)


def set_db_created(region: str, identifier: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    rds_backends[account_id][region].databases[identifier].instance_create_time = _utc(when)


def set_bucket_created(bucket: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    s3_backends[account_id]["aws"].get_bucket(bucket).creation_date = _utc(when)


def set_cache_cluster_created(
    region: str, cluster_id: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID
) -> None:
    elasticache_backends[account_id][region].cache_clusters[cluster_id].cache_cluster_create_time = _utc(when)


def set_table_created(region: str, table: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    dynamodb_backends[account_id][region].tables[table].created_at = _utc(when)


def set_redshift_cluster_created(
    region: str, cluster_id: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID
) -> None:
    redshift_backends[account_id][region].clusters[cluster_id].create_time = _utc(when)


def set_ecs_service_created(
    region: str, service_arn: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID
) -> None:
    """DescribeServices gives the service's ``createdAt`` (moto answers it only once it is set here)."""
    for service in ecs_backends[account_id][region].services.values():
        if service.arn == service_arn:
            service.created_at = _utc(when)  # type: ignore[attr-defined]


def set_eks_cluster_created(region: str, name: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    eks_backends[account_id][region].clusters[name].created_at = _utc(when)


def set_api_created(region: str, api_id: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """A REST (v1) or HTTP/WebSocket (v2) API created at ``when``."""
    rest = apigateway_backends[account_id][region].apis
    if api_id in rest:
        rest[api_id].create_date = int(_utc(when).timestamp())
    else:
        apigatewayv2_backends[account_id][region].apis[api_id].created_date = _utc(when)


def backdate(region: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Every resource of the region CarbonMeter reads a creation time of, and every bucket of the account, made at
    ``when``: a fleet that existed through the hours the workbench publishes metrics for."""
    ec2 = ec2_backends[account_id][region]
    for instance in ec2.all_instances():
        instance.launch_time = _utc(when)
    for volume in ec2.volumes.values():
        volume.create_time = _utc(when)
    for database in rds_backends[account_id][region].databases.values():
        database.instance_create_time = _utc(when)
    for bucket in s3_backends[account_id]["aws"].buckets.values():
        bucket.creation_date = _utc(when)
    _backdate_new_services(region, _utc(when), account_id)


def _backdate_new_services(region: str, when: datetime, account_id: str) -> None:
    caches = elasticache_backends[account_id][region]
    for cluster in caches.cache_clusters.values():
        cluster.cache_cluster_create_time = when
    set_caches_created(caches, when)
    for table in dynamodb_backends[account_id][region].tables.values():
        table.created_at = when
    for warehouse in redshift_backends[account_id][region].clusters.values():
        warehouse.create_time = when
    set_workgroups_created(region, when, account_id)
    for service in ecs_backends[account_id][region].services.values():
        service.created_at = when  # type: ignore[attr-defined]
    for cluster in eks_backends[account_id][region].clusters.values():
        cluster.created_at = when
    for rest in apigateway_backends[account_id][region].apis.values():
        rest.create_date = int(when.timestamp())
    for api in apigatewayv2_backends[account_id][region].apis.values():
        api.created_date = when


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)
