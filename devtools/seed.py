"""A realistic customer account on the embedded AWS: a mixed fleet and its CloudWatch history.

The fleet spans EC2 (x86 and Graviton, running and stopped, one type absent from the
reference coefficients), EBS (every volume type, attached and not), S3 (several storage
classes), RDS (single and Multi-AZ) and Lambda (x86_64 and arm64). Metrics are written
into the AWS/* namespaces with the dimensions AWS uses, already aggregated per hour
(StatisticValues), so CloudWatch's Average, Sum, Minimum, Maximum and SampleCount all
answer as they would for 5-minute (EC2) or 1-minute (RDS, Lambda) data.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import random
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from carbonmeter.aws import ClientFactory
from carbonmeter.models import Service

DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-southeast-2")
READ_ONLY_ROLE_NAME = "CarbonMeterReadOnly"
FUNCTION_ROLE_NAME = "carbonmeter-demo-function"
# PutMetricData accepts at most this many datums a call.
MAX_DATUMS_PER_CALL = 1000
DAY = timedelta(days=1)
GB = 1e9

_EC2_SAMPLES_PER_HOUR = 12  # basic monitoring: one datapoint every 5 minutes
_RDS_SAMPLES_PER_HOUR = 60  # RDS publishes every minute
_LAMBDA_RUNTIME = "python3.12"
_AL2023_NAME_FILTER = {"Name": "name", "Values": ["al2023-ami-2023*"]}
_HANDLER_SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


@dataclass(frozen=True)
class InstanceGroup:
    instance_type: str
    count: int
    stopped: int = 0
    tagged: int = 0


@dataclass(frozen=True)
class VolumeSpec:
    volume_type: str
    size_gib: int
    attached: bool
    iops: int | None = None


@dataclass(frozen=True)
class BucketSpec:
    purpose: str
    # CloudWatch StorageType -> stored GB on the first day.
    storage_gb: Mapping[str, float]


@dataclass(frozen=True)
class DatabaseSpec:
    engine: str
    instance_class: str
    storage_type: str
    allocated_gib: int
    multi_az: bool
    iops: int | None = None


@dataclass(frozen=True)
class FunctionSpec:
    architecture: str
    memory_mb: int
    mean_duration_ms: float
    peak_invocations_per_hour: int


@dataclass(frozen=True)
class RegionFleet:
    """What to create in one region."""

    instances: tuple[InstanceGroup, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    buckets: tuple[BucketSpec, ...] = ()
    databases: tuple[DatabaseSpec, ...] = ()
    functions: tuple[FunctionSpec, ...] = ()

    def scaled(self, scale: int) -> RegionFleet:
        return RegionFleet(
            instances=tuple(
                replace(group, count=group.count * scale, stopped=group.stopped * scale, tagged=group.tagged * scale)
                for group in self.instances
            ),
            volumes=self.volumes * scale,
            buckets=self.buckets * scale,
            databases=self.databases * scale,
            functions=self.functions * scale,
        )


# The demo customer: per region, a web tier, a batch tier, storage, two databases and some functions.
DEMO_FLEET = RegionFleet(
    instances=(
        InstanceGroup("m5.large", 3, stopped=1, tagged=1),
        InstanceGroup("t3.medium", 3, stopped=1),
        InstanceGroup("c6g.xlarge", 2, tagged=1),
        InstanceGroup("r5.2xlarge", 1),
        # Not in the reference coefficients: exercises the collector's fallback for unknown types.
        InstanceGroup("m7i.large", 1),
    ),
    volumes=(
        VolumeSpec("gp3", 100, attached=True),
        VolumeSpec("gp2", 50, attached=True),
        VolumeSpec("io1", 200, attached=True, iops=4000),
        VolumeSpec("st1", 500, attached=False),
        VolumeSpec("sc1", 1000, attached=False),
        VolumeSpec("gp3", 20, attached=False),
    ),
    buckets=(
        BucketSpec("data", {"StandardStorage": 850, "StandardIAStorage": 2400, "GlacierStorage": 12000}),
        BucketSpec("logs", {"StandardStorage": 120, "OneZoneIAStorage": 300}),
        BucketSpec("assets", {"StandardStorage": 35}),
    ),
    databases=(
        DatabaseSpec("mysql", "db.t3.medium", "gp2", 100, multi_az=False),
        DatabaseSpec("postgres", "db.m5.large", "io1", 400, multi_az=True, iops=3000),
    ),
    functions=(
        FunctionSpec("x86_64", 128, 45, 3000),
        FunctionSpec("arm64", 1024, 220, 800),
        FunctionSpec("x86_64", 3008, 1800, 60),
        FunctionSpec("arm64", 512, 90, 12000),
    ),
)
# seed_fleet's mix of metric-bearing resources, by share of the total.
_FLEET_MIX: tuple[tuple[Service, float], ...] = (
    (Service.EC2, 0.6),
    (Service.LAMBDA, 0.2),
    (Service.S3, 0.15),
    (Service.RDS, 0.05),
)


@dataclass(frozen=True)
class DemoAccount:
    """The seeded account, and what a collector should find in it.

    ``resources`` maps region -> service -> resource ids (EC2 instance ids of *running*
    instances, EBS volume ids including instances' root volumes, bucket names, RDS
    DBInstanceIdentifiers, Lambda function names). Stopped instances are listed apart.
    """

    account_id: str
    regions: tuple[str, ...]
    role_arn: str
    external_id: str
    hours: tuple[datetime, ...]
    resources: Mapping[str, Mapping[Service, tuple[str, ...]]]
    stopped_instances: Mapping[str, tuple[str, ...]]
    metric_datums: int

    @property
    def counts(self) -> dict[str, dict[Service, int]]:
        return {
            region: {service: len(ids) for service, ids in by_service.items()}
            for region, by_service in self.resources.items()
        }

    def count(self, service: Service | None = None, region: str | None = None) -> int:
        """Resources of ``service`` (all services if None) in ``region`` (all regions if None)."""
        return sum(
            len(ids)
            for name, by_service in self.resources.items()
            if region in (None, name)
            for kind, ids in by_service.items()
            if service in (None, kind)
        )


@dataclass
class _RegionInventory:
    resources: dict[Service, list[str]] = field(default_factory=lambda: {service: [] for service in Service})
    stopped: list[str] = field(default_factory=list)
    metric_datums: int = 0


def seed_demo_account(
    clients: ClientFactory,
    regions: Sequence[str],
    hours: Sequence[datetime],
    *,
    scale: int = 1,
    rng_seed: int = 7,
) -> DemoAccount:
    """Create the demo fleet (``scale`` times over) in every region, with metrics for ``hours``.

    At scale 1 a region holds 33 resources a collector should find (plus two stopped
    instances); over the three ``DEFAULT_REGIONS``, scale 1, 10 and 100 give about
    100, 1,000 and 10,000. The same ``rng_seed`` gives the same metric values.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    fleet = DEMO_FLEET.scaled(scale)
    return _seed(clients, regions, dict.fromkeys(regions, fleet), hours, rng_seed)


def seed_fleet(
    clients: ClientFactory,
    regions: Sequence[str],
    resource_count: int,
    hours: Sequence[datetime],
    *,
    rng_seed: int = 7,
) -> DemoAccount:
    """Create exactly ``resource_count`` metric-bearing resources (running EC2, Lambda, S3, RDS) over ``regions``.

    Instances bring their root volumes (EBS, without metrics); nothing else is added.
    """
    if resource_count < 0:
        raise ValueError("resource_count must not be negative")
    shares = _split(resource_count, [1.0] * len(regions))
    fleets = {region: _mixed_fleet(count) for region, count in zip(regions, shares, strict=True)}
    return _seed(clients, regions, fleets, hours, rng_seed)


def _mixed_fleet(count: int) -> RegionFleet:
    ec2, lambdas, s3, rds = _split(count, [share for _, share in _FLEET_MIX])
    types = [group.instance_type for group in DEMO_FLEET.instances]
    per_type = _split(ec2, [1.0] * len(types))
    return RegionFleet(
        instances=tuple(InstanceGroup(kind, n) for kind, n in zip(types, per_type, strict=True) if n),
        buckets=_cycle(DEMO_FLEET.buckets, s3),
        databases=_cycle(DEMO_FLEET.databases, rds),
        functions=_cycle(DEMO_FLEET.functions, lambdas),
    )


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` shared out in proportion to ``weights``, largest remainders first; sums to ``total``."""
    if not weights:
        raise ValueError("at least one region is needed")
    exact = [total * weight / sum(weights) for weight in weights]
    parts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda index: parts[index] - exact[index])
    for index in by_remainder[: total - sum(parts)]:
        parts[index] += 1
    return parts


def _cycle(items: Sequence[Any], count: int) -> tuple[Any, ...]:
    return tuple(items[index % len(items)] for index in range(count))


def _seed(
    clients: ClientFactory,
    regions: Sequence[str],
    fleets: Mapping[str, RegionFleet],
    hours: Sequence[datetime],
    rng_seed: int,
) -> DemoAccount:
    if not regions:
        raise ValueError("at least one region is needed")
    ordered_hours = _validated_hours(hours)
    account_id: str = clients.client("sts").get_caller_identity()["Account"]
    rng = random.Random(rng_seed)
    external_id = f"carbonmeter-demo-{rng.getrandbits(64):016x}"
    role_arn = _read_only_role(clients, account_id, external_id)
    function_role_arn = _function_role(clients)
    inventories = {
        region: _seed_region(
            clients, region, fleets[region], ordered_hours, random.Random(f"{rng_seed}:{region}"), function_role_arn
        )
        for region in regions
    }
    return DemoAccount(
        account_id=account_id,
        regions=tuple(regions),
        role_arn=role_arn,
        external_id=external_id,
        hours=tuple(ordered_hours),
        resources={
            region: {service: tuple(ids) for service, ids in inventory.resources.items()}
            for region, inventory in inventories.items()
        },
        stopped_instances={region: tuple(inventory.stopped) for region, inventory in inventories.items()},
        metric_datums=sum(inventory.metric_datums for inventory in inventories.values()),
    )


def _validated_hours(hours: Iterable[datetime]) -> list[datetime]:
    checked = []
    for hour in hours:
        if hour.tzinfo is None or hour != hour.replace(minute=0, second=0, microsecond=0):
            raise ValueError(f"{hour!r} is not a whole hour with a timezone")
        checked.append(hour.astimezone(UTC))
    return sorted(set(checked))


# --- identity -----------------------------------------------------------------------------------


def _read_only_role(clients: ClientFactory, account_id: str, external_id: str) -> str:
    """The role a CarbonMeter connection assumes: trusted with an ExternalId, allowed the read actions."""
    from carbonmeter.services import READ_ACTIONS

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
    arn = _role(clients, READ_ONLY_ROLE_NAME, trust)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"}],
    }
    clients.client("iam").put_role_policy(
        RoleName=READ_ONLY_ROLE_NAME, PolicyName="CarbonMeterRead", PolicyDocument=json.dumps(policy)
    )
    return arn


def _function_role(clients: ClientFactory) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    return _role(clients, FUNCTION_ROLE_NAME, trust)


def _role(clients: ClientFactory, name: str, trust: Mapping[str, Any]) -> str:
    iam = clients.client("iam")
    try:
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    return arn


# --- one region -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    """How busy one resource is: a daily cycle around a base level, peaking at a local hour."""

    base: float
    swing: float
    peak_hour: float

    def load(self, hour: datetime) -> float:
        """Between 0 (quietest hour) and 1 (busiest)."""
        return 0.5 + 0.5 * math.cos(2 * math.pi * (hour.hour - self.peak_hour) / 24)


def _seed_region(
    clients: ClientFactory,
    region: str,
    fleet: RegionFleet,
    hours: Sequence[datetime],
    rng: random.Random,
    function_role_arn: str,
) -> _RegionInventory:
    inventory = _RegionInventory()
    # One business day per region: its resources peak around the same (UTC) hour.
    peak_hour = rng.uniform(0, 24)
    metrics = _MetricWriter(clients.client("cloudwatch", region))
    running = _create_instances(clients.client("ec2", region), fleet.instances, rng, inventory)
    _create_volumes(clients.client("ec2", region), fleet.volumes, running, inventory)
    for instance_id, _ in running:
        _put_instance_metrics(metrics, instance_id, _profile(rng, peak_hour), hours, rng)
    for index, bucket in enumerate(fleet.buckets):
        name = _create_bucket(clients.client("s3", region), region, index, bucket)
        inventory.resources[Service.S3].append(name)
        _put_bucket_metrics(metrics, name, bucket, hours, rng)
    for index, database in enumerate(fleet.databases):
        identifier = _create_database(clients.client("rds", region), index, database, rng)
        inventory.resources[Service.RDS].append(identifier)
        _put_database_metrics(metrics, identifier, _profile(rng, peak_hour), hours, rng)
    code = _handler_zip()
    for index, function in enumerate(fleet.functions):
        name = _create_function(clients.client("lambda", region), index, function, function_role_arn, code)
        inventory.resources[Service.LAMBDA].append(name)
        _put_function_metrics(metrics, name, function, _profile(rng, peak_hour), hours, rng)
    metrics.flush()
    inventory.metric_datums = metrics.written
    return inventory


def _profile(rng: random.Random, peak_hour: float) -> _Profile:
    return _Profile(base=rng.uniform(5, 25), swing=rng.uniform(5, 55), peak_hour=peak_hour + rng.uniform(-2, 2))


# --- EC2 and EBS --------------------------------------------------------------------------------


def _create_instances(
    ec2: Any, groups: Sequence[InstanceGroup], rng: random.Random, inventory: _RegionInventory
) -> list[tuple[str, str]]:
    """Launch every group; returns (instance id, availability zone) of the instances left running."""
    groups = [group for group in groups if group.count]
    architectures = _architectures(ec2, {group.instance_type for group in groups})
    images = {architecture: _image(ec2, architecture) for architecture in set(architectures.values())}
    running: list[tuple[str, str]] = []
    stopped: list[str] = []
    tagged: list[str] = []
    for group in groups:
        launched = ec2.run_instances(
            ImageId=images[architectures[group.instance_type]],
            InstanceType=group.instance_type,
            MinCount=group.count,
            MaxCount=group.count,
        )["Instances"]
        ids = [instance["InstanceId"] for instance in launched]
        zones = {instance["InstanceId"]: instance["Placement"]["AvailabilityZone"] for instance in launched}
        inventory.resources[Service.EBS].extend(_root_volumes(launched))
        stopped.extend(ids[group.count - group.stopped :])
        tagged.extend(rng.sample(ids, group.tagged))
        running.extend((instance_id, zones[instance_id]) for instance_id in ids[: group.count - group.stopped])
    if stopped:
        ec2.stop_instances(InstanceIds=stopped)
    if tagged:
        ec2.create_tags(Resources=tagged, Tags=[{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}])
    inventory.resources[Service.EC2].extend(instance_id for instance_id, _ in running)
    inventory.stopped.extend(stopped)
    return running


def _architectures(ec2: Any, instance_types: Iterable[str]) -> dict[str, str]:
    """The processor architecture (``arm64`` or ``x86_64``) each instance type runs."""
    ordered = sorted(instance_types)
    if not ordered:
        return {}
    found = {}
    for info in ec2.describe_instance_types(InstanceTypes=ordered)["InstanceTypes"]:
        supported = info.get("ProcessorInfo", {}).get("SupportedArchitectures", ["x86_64"])
        found[info["InstanceType"]] = "arm64" if "arm64" in supported else "x86_64"
    return found


def _image(ec2: Any, architecture: str) -> str:
    """An Amazon Linux 2023 image for ``architecture``, as a customer would launch."""
    filters = [{"Name": "architecture", "Values": [architecture]}, {"Name": "state", "Values": ["available"]}]
    # Naming the image family keeps the answer small; the emulator lists a thousand images otherwise.
    images = ec2.describe_images(Owners=["amazon"], Filters=[*filters, _AL2023_NAME_FILTER])["Images"]
    images = images or ec2.describe_images(Owners=["amazon"], Filters=filters)["Images"]
    if not images:
        raise RuntimeError(f"the embedded AWS offers no {architecture} image")
    return str(min(image["ImageId"] for image in images))


def _root_volumes(instances: Iterable[Mapping[str, Any]]) -> list[str]:
    return [
        mapping["Ebs"]["VolumeId"]
        for instance in instances
        for mapping in instance.get("BlockDeviceMappings", [])
        if "Ebs" in mapping
    ]


def _create_volumes(
    ec2: Any, volumes: Sequence[VolumeSpec], running: Sequence[tuple[str, str]], inventory: _RegionInventory
) -> None:
    devices: dict[str, int] = defaultdict(int)
    targets = itertools.cycle(running)
    spare_zone: str | None = None
    for volume in volumes:
        target = next(targets) if volume.attached and running else None
        if target:
            zone = target[1]
        else:
            spare_zone = spare_zone or _first_zone(ec2)
            zone = spare_zone
        params: dict[str, Any] = {"AvailabilityZone": zone, "Size": volume.size_gib, "VolumeType": volume.volume_type}
        if volume.iops:
            params["Iops"] = volume.iops
        volume_id = ec2.create_volume(**params)["VolumeId"]
        if target:
            instance_id = target[0]
            # /dev/sdf onwards: the names AWS recommends for data volumes.
            device = f"/dev/sd{chr(ord('f') + devices[instance_id])}"
            devices[instance_id] += 1
            ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)
        inventory.resources[Service.EBS].append(volume_id)


def _first_zone(ec2: Any) -> str:
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    return str(min(zone["ZoneName"] for zone in zones))


def _put_instance_metrics(
    metrics: _MetricWriter, instance_id: str, profile: _Profile, hours: Sequence[datetime], rng: random.Random
) -> None:
    dimensions = [{"Name": "InstanceId", "Value": instance_id}]
    bytes_at_peak = rng.uniform(50e6, 5e9)
    for hour in hours:
        load = profile.load(hour)
        cpu = _clamp(profile.base + profile.swing * load + rng.gauss(0, 2), 5, 80)
        metrics.add(
            "AWS/EC2", _mean_datum("CPUUtilization", dimensions, hour, cpu, _EC2_SAMPLES_PER_HOUR, "Percent", rng)
        )
        sent = bytes_at_peak * (0.1 + 0.9 * load) * rng.uniform(0.8, 1.2)
        metrics.add("AWS/EC2", _total_datum("NetworkOut", dimensions, hour, sent, _EC2_SAMPLES_PER_HOUR, "Bytes"))


# --- S3 -------------------------------------------------------------------------------------------


def _create_bucket(s3: Any, region: str, index: int, bucket: BucketSpec) -> str:
    name = f"demo-{bucket.purpose}-{region}-{index:05d}"
    params: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(**params)
    return name


def _put_bucket_metrics(
    metrics: _MetricWriter, name: str, bucket: BucketSpec, hours: Sequence[datetime], rng: random.Random
) -> None:
    """One BucketSizeBytes datapoint per storage type and day, stamped 00:00 UTC as S3 reports them.

    Days run from the one before the first hour, so every hour has a value published before it.
    """
    if not hours:
        return
    first = hours[0].replace(hour=0) - DAY
    days = [first + DAY * n for n in range((hours[-1].replace(hour=0) - first) // DAY + 1)]
    growth = rng.uniform(0.0, 0.02)
    for storage_type, gb in bucket.storage_gb.items():
        size = gb * GB * rng.uniform(0.7, 1.3)
        # Moto, unlike CloudWatch, matches dimensions only in the order they were written; this is
        # the order its own S3 metrics use, and the one queries against the emulator must use.
        dimensions = [{"Name": "StorageType", "Value": storage_type}, {"Name": "BucketName", "Value": name}]
        for day_index, day in enumerate(days):
            value = round(size * (1 + growth) ** day_index)
            metrics.add(
                "AWS/S3",
                {
                    "MetricName": "BucketSizeBytes",
                    "Dimensions": dimensions,
                    "Timestamp": day,
                    "Value": value,
                    "Unit": "Bytes",
                },
            )


# --- RDS ------------------------------------------------------------------------------------------


def _create_database(rds: Any, index: int, database: DatabaseSpec, rng: random.Random) -> str:
    identifier = f"demo-{database.engine}-{index:05d}"
    params: dict[str, Any] = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceClass": database.instance_class,
        "Engine": database.engine,
        "AllocatedStorage": database.allocated_gib,
        "StorageType": database.storage_type,
        "MultiAZ": database.multi_az,
        "MasterUsername": "demoadmin",
        "MasterUserPassword": f"Demo{rng.getrandbits(64):016x}",
    }
    if database.iops:
        params["Iops"] = database.iops
    with contextlib.suppress(rds.exceptions.DBInstanceAlreadyExistsFault):
        rds.create_db_instance(**params)
    return identifier


def _put_database_metrics(
    metrics: _MetricWriter, identifier: str, profile: _Profile, hours: Sequence[datetime], rng: random.Random
) -> None:
    dimensions = [{"Name": "DBInstanceIdentifier", "Value": identifier}]
    for hour in hours:
        cpu = _clamp(profile.base + profile.swing * profile.load(hour) + rng.gauss(0, 2), 5, 80)
        metrics.add(
            "AWS/RDS", _mean_datum("CPUUtilization", dimensions, hour, cpu, _RDS_SAMPLES_PER_HOUR, "Percent", rng)
        )


# --- Lambda ---------------------------------------------------------------------------------------


def _handler_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", _HANDLER_SOURCE)
    return buffer.getvalue()


def _create_function(lambda_: Any, index: int, function: FunctionSpec, role_arn: str, code: bytes) -> str:
    name = f"demo-{function.architecture}-{function.memory_mb}mb-{index:05d}"
    with contextlib.suppress(lambda_.exceptions.ResourceConflictException):
        lambda_.create_function(
            FunctionName=name,
            Runtime=_LAMBDA_RUNTIME,
            Role=role_arn,
            Handler="index.handler",
            Code={"ZipFile": code},
            MemorySize=function.memory_mb,
            Architectures=[function.architecture],
        )
    return name


def _put_function_metrics(
    metrics: _MetricWriter,
    name: str,
    function: FunctionSpec,
    profile: _Profile,
    hours: Sequence[datetime],
    rng: random.Random,
) -> None:
    dimensions = [{"Name": "FunctionName", "Value": name}]
    for hour in hours:
        invocations = round(
            function.peak_invocations_per_hour * (0.05 + 0.95 * profile.load(hour)) * rng.uniform(0.7, 1.3)
        )
        if invocations == 0:
            # A function that was not invoked publishes nothing for the hour.
            continue
        mean_ms = function.mean_duration_ms * rng.uniform(0.8, 1.25)
        metrics.add(
            "AWS/Lambda",
            _datum("Invocations", dimensions, hour, "Count", count=invocations, total=invocations, low=1, high=1),
        )
        metrics.add(
            "AWS/Lambda",
            _datum(
                "Duration",
                dimensions,
                hour,
                "Milliseconds",
                count=invocations,
                total=mean_ms * invocations,
                low=mean_ms * 0.3,
                high=mean_ms * 3,
            ),
        )


# --- CloudWatch -----------------------------------------------------------------------------------


class _MetricWriter:
    """Buffers datums per namespace and writes them with as few PutMetricData calls as possible."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch
        self._pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.written = 0

    def add(self, namespace: str, datum: dict[str, Any]) -> None:
        pending = self._pending[namespace]
        pending.append(datum)
        if len(pending) == MAX_DATUMS_PER_CALL:
            self._write(namespace)

    def flush(self) -> None:
        for namespace in list(self._pending):
            self._write(namespace)

    def _write(self, namespace: str) -> None:
        datums = self._pending.pop(namespace, [])
        if datums:
            self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums)
            self.written += len(datums)


def _mean_datum(
    name: str,
    dimensions: list[dict[str, str]],
    hour: datetime,
    mean: float,
    samples: int,
    unit: str,
    rng: random.Random,
) -> dict[str, Any]:
    """An hour of ``samples`` readings averaging ``mean``, spread around it."""
    spread = rng.uniform(1, 15)
    low, high = max(0.0, mean - spread), min(100.0, mean + spread)
    return _datum(name, dimensions, hour, unit, count=samples, total=mean * samples, low=low, high=high)


def _total_datum(
    name: str, dimensions: list[dict[str, str]], hour: datetime, total: float, samples: int, unit: str
) -> dict[str, Any]:
    """An hour of ``samples`` readings adding up to ``total``."""
    mean = total / samples
    return _datum(name, dimensions, hour, unit, count=samples, total=total, low=mean * 0.5, high=mean * 1.5)


def _datum(
    name: str,
    dimensions: list[dict[str, str]],
    hour: datetime,
    unit: str,
    *,
    count: float,
    total: float,
    low: float,
    high: float,
) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": hour,
        "StatisticValues": {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high},
        "Unit": unit,
    }


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
