"""``make instance-types``: the layer's instance-type snapshot, written from DescribeInstanceTypes of one region.

Asks EC2 for every instance type of the region (all pages) with your own credentials (AWS_PROFILE or the AWS_*
variables, as the AWS CLI finds them), keeps of each type exactly what the collector uses
(``instance_type_spec``), and writes them, sorted, into the layer's ``carbonmeter/data/instance-types.json`` with
when and where they were taken. Only ec2:DescribeInstanceTypes is called; the answers are the same in every account.
``--embedded`` asks an embedded AWS started for the run instead (moto's copy of AWS's answers, no account needed);
``--endpoint-url`` (or CARBONMETER_ENDPOINT_URL, as for the CLI) asks a running local one (``make local``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import moto
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from carbonmeter import cli
from carbonmeter.aws import ClientFactory
from carbonmeter.models import ALL_REGIONS
from carbonmeter.regions import UnknownRegionError, parse_regions
from carbonmeter.services.instance_types import SNAPSHOT_FILE, SPEC_FIELDS, Spec, instance_type_spec
from carbonmeter.settings import Settings
from devtools.aws.server import embedded_aws
from devtools.progress import say

PROG = "python -m devtools.instance_types"
# us-east-1 offers the most types; a type offered only elsewhere is still asked by the collector when met.
DEFAULT_REGION = "us-east-1"
# The error codes of credentials that may not call DescribeInstanceTypes (EC2's own, and IAM's generic one).
_DENIED = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"})


class SnapshotError(RuntimeError):
    """The snapshot could not be taken: what went wrong and what to do, in one line."""


@dataclass(frozen=True)
class Snapshot:
    """Every instance type of a region as the collector keeps it, with when and where it was taken."""

    generated_at: datetime
    region: str
    endpoint: str
    specs: Mapping[str, Spec]

    def text(self) -> str:
        """The file's text: its header, then one type a line, sorted by name, each with ``SPEC_FIELDS`` in order."""
        header = {
            "generated_at": self.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": {"api": "ec2:DescribeInstanceTypes", "region": self.region, "endpoint": self.endpoint},
            "refresh": "make instance-types",
            "fields": list(SPEC_FIELDS),
        }
        lines = [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in header.items()]
        entries = [f"    {json.dumps(name)}: {_entry(self.specs[name])}" for name in sorted(self.specs)]
        return "\n".join(["{", *lines, '  "instance_types": {', ",\n".join(entries), "  }", "}"]) + "\n"


def _entry(spec: Spec) -> str:
    return json.dumps({field: _json_value(spec[field]) for field in SPEC_FIELDS}, separators=(", ", ": "))


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def take_snapshot(clients: ClientFactory, region: str, endpoint: str) -> Snapshot:
    """Every type DescribeInstanceTypes lists in ``region``, paginated; ``SnapshotError`` when it cannot."""
    try:
        pages = clients.client("ec2", region).get_paginator("describe_instance_types").paginate()
        specs = {info["InstanceType"]: instance_type_spec(info) for page in pages for info in page["InstanceTypes"]}
    except NoCredentialsError:
        raise SnapshotError(
            "no AWS credentials found: set AWS_PROFILE or the AWS_* variables for your account "
            "(or --embedded for an embedded AWS)"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _DENIED:
            raise SnapshotError(
                f"your credentials may not call ec2:DescribeInstanceTypes in {region} ({code}): "
                "allow that action (it reads no resource of yours) or use a profile that may"
            ) from None
        raise SnapshotError(f"DescribeInstanceTypes in {region} failed: {' '.join(str(exc).split())}") from None
    except BotoCoreError as exc:
        raise SnapshotError(f"DescribeInstanceTypes in {region} failed: {exc}") from None
    if not specs:
        raise SnapshotError(f"DescribeInstanceTypes listed no instance type in {region}: nothing written")
    return Snapshot(datetime.now(UTC), region, endpoint, specs)


@contextmanager
def _where(embedded: bool, endpoint_url: str | None) -> Iterator[tuple[Settings, str]]:
    """The settings to ask with and how the file names where it asked: an embedded AWS, a given endpoint, or AWS."""
    settings = Settings.from_env()
    with embedded_aws() if embedded else nullcontext() as started:
        url = started or endpoint_url or settings.endpoint_url
        described = f"embedded AWS (moto {moto.__version__})" if embedded else f"endpoint {url}" if url else "AWS"
        yield settings.model_copy(update={"endpoint_url": url}), described


def _region(value: str) -> str:
    try:
        regions = parse_regions([value])
    except UnknownRegionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if regions == (ALL_REGIONS,):
        raise argparse.ArgumentTypeError("give one region, e.g. us-east-1")
    return regions[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.CliParser(prog=PROG, description=__doc__)
    parser.add_argument("--region", type=_region, default=DEFAULT_REGION, help=f"default {DEFAULT_REGION}")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--embedded", action="store_true", help="ask an embedded AWS started for the run (moto)")
    where.add_argument(
        "--endpoint-url", help="ask this endpoint instead of AWS, e.g. a local CarbonMeter's (make local)"
    )
    parser.add_argument("--output", type=Path, default=SNAPSHOT_FILE, help="where to write (default: the layer's)")
    args = parser.parse_args(argv)
    try:
        with _where(args.embedded, args.endpoint_url) as (settings, endpoint):
            snapshot = take_snapshot(ClientFactory(settings=settings), args.region, endpoint)
    except SnapshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_FAILURE
    args.output.write_text(snapshot.text(), encoding="utf-8")
    say(f"wrote {len(snapshot.specs)} instance types of {args.region} ({endpoint}) into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
