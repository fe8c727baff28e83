"""Launch, stop, termination and creation times on the embedded AWS, set at moto's backends.

Moto stamps an instance's LaunchTime, a stop's or termination's StateTransitionReason, an EBS volume's CreateTime, an
RDS instance's InstanceCreateTime and an S3 bucket's CreationDate with the time of the call, and no API lets a
caller give another. The workbench's fleets and tests live in hours of the past, so they set the times those
hours need here (in-process: the embedded server's backends are this process's). ``forget_instance`` does what
AWS does about an hour after a termination: DescribeInstances no longer lists the instance.
"""

from __future__ import annotations

from datetime import UTC, datetime

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.rds.models import rds_backends
from moto.s3.models import s3_backends


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


def backdate(region: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Every instance, volume and RDS instance of the region, and every bucket of the account, made at ``when``:
    a fleet that existed through the hours the workbench publishes metrics for."""
    ec2 = ec2_backends[account_id][region]
    for instance in ec2.all_instances():
        instance.launch_time = _utc(when)
    for volume in ec2.volumes.values():
        volume.create_time = _utc(when)
    for database in rds_backends[account_id][region].databases.values():
        database.instance_create_time = _utc(when)
    for bucket in s3_backends[account_id]["aws"].buckets.values():
        bucket.creation_date = _utc(when)


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)
