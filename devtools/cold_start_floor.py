"""The least a handler of ours imports: boto3, a pydantic model of its message, Powertools' logger, metrics and
tracer (botocore patched), as every handler sets them up. ``devtools.cold_starts`` times its import beside the
handlers': what a handler costs above it is its own code."""

from __future__ import annotations

import boto3  # noqa: F401 (imported for its cost: every handler makes clients)
from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel, Json

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()


class Job(BaseModel):
    connection_id: str


class Message(BaseModel):
    messageId: str  # SQS's name for it
    body: Json[Job]
