"""The one way CarbonMeter builds a Lambda function."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    ARCHITECTURE,
    FUNCTION_HANDLER,
    FUNCTIONS_DIR,
    LOG_LEVEL,
    LOG_RETENTION,
    METRICS_NAMESPACE,
    RUNTIME,
    FunctionSpec,
    service_name,
)

_IGNORED = ("__pycache__", "*.pyc")


@jsii.implements(ILocalBundling)
class FunctionPackageBundling:
    """Packages ``functions/<name>/`` as the package ``functions.<name>``, as it imports locally, so that a handler
    may import the modules beside it (``from functions.api import auth``). No Docker: a copy."""

    def __init__(self, code_dir: Path) -> None:
        self._code_dir = code_dir

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        package = Path(output_dir) / FUNCTIONS_DIR.name
        shutil.copytree(self._code_dir, package / self._code_dir.name, ignore=shutil.ignore_patterns(*_IGNORED))
        shutil.copy2(FUNCTIONS_DIR / "__init__.py", package / "__init__.py")
        return True


def function_handler(spec: FunctionSpec) -> str:
    """Lambda's handler setting: ``functions.<name>.handler.handler``."""
    return f"{FUNCTIONS_DIR.name}.{spec.name}.{FUNCTION_HANDLER}"


class CarbonMeterFunction(Construct):
    """A function from ``functions/<name>/`` with the layer, Powertools settings, tracing and its own log group.

    Its role starts empty apart from writing to its own log group: every other permission is granted explicitly.
    Optional: ``role_name`` gives the role a fixed name (others may trust it by ARN), ``log_key`` encrypts the log
    group with a customer managed key (else CloudWatch Logs' own encryption), and ``dead_letter_queue`` receives the
    events of asynchronous invocations that failed every retry.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        role_name: str | None = None,
        log_key: kms.IKey | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        code_dir = FUNCTIONS_DIR / spec.name
        handler_file = code_dir / (FUNCTION_HANDLER.split(".")[0] + ".py")
        if not handler_file.is_file():
            raise FileNotFoundError(f"function {spec.name!r} has no handler at {handler_file}")

        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, encryption_key=log_key)
        # A role of our own instead of AWSLambdaBasicExecutionRole, whose log permissions cover every log group.
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"CarbonMeter {spec.name} function",
        )
        self.log_group.grant_write(self.role)
        if dead_letter_queue is not None:
            _grant_dead_letter_key(dead_letter_queue, self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=function_handler(spec),
            code=lambda_.Code.from_asset(
                str(code_dir),
                exclude=[f"**/{pattern}" for pattern in _IGNORED],
                bundling=BundlingOptions(
                    # Only used if local bundling declines, which it never does.
                    image=RUNTIME.bundling_image,
                    # jsii passes the options positionally, which the generated protocol does not describe.
                    local=cast(ILocalBundling, FunctionPackageBundling(code_dir)),
                ),
            ),
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            dead_letter_queue=dead_letter_queue,
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name(spec),
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
                **environment,
            },
        )


def _grant_dead_letter_key(queue: sqs.IQueue, role: iam.IRole) -> None:
    """Lambda sends failed events with the function's role; the CDK grants it ``sqs:SendMessage`` and no more.

    A queue under a customer managed key also needs the key for each message: the two KMS calls SQS documents
    for producers.
    """
    if queue.encryption_master_key is not None:
        queue.encryption_master_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
