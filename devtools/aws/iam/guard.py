"""Every call of a local function is authorized as AWS would: by its deployed role, or its assumed session.

Each function signs with access keys of its own, as each Lambda function runs with its own role's
credentials. The guard's botocore hooks find the call's (action, resource) before the request is built,
the signer's access key once it is signed, and refuse the call with AccessDenied when the principal's
policies do not allow it. Sessions the collector obtains with AssumeRole are bound by the customer
stack's policy and the session policy it passed; the role's trust policy is checked on the way in.
Calls signed with any other key (seeding, tests, the operator's CLI) are not the functions' and pass.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from carbonmeter.aws import EventHook
from devtools.aws.iam.deployed import DeployedPolicies, FunctionRole
from devtools.aws.iam.policy import Policy
from devtools.aws.iam.requests import Access, access_denied_code, required_access

_REQUIRED = "carbonmeter.iam.required"
_ASSUMING = "carbonmeter.iam.assuming"
_ASSUMED = "carbonmeter.iam.assumed"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


@dataclass(frozen=True)
class Denial:
    principal: str
    action: str
    resource: str
    reason: str


@dataclass(frozen=True)
class _Principal:
    """Who signs with one access key, and the policies that must all allow a call of theirs."""

    arn: str
    role_arn: str
    policies: tuple[tuple[str, Policy], ...]

    def refusal(self, access: Access) -> str | None:
        for kind, policy in self.policies:
            if not policy.allows(access.action, access.resource):
                return f"no {kind} allows the {access.action} action"
        return None


@dataclass(frozen=True)
class _Assumption:
    role_arn: str
    external_id: str | None
    session_name: str
    session_policy: str | None
    caller: _Principal


def function_access_key(function: str) -> str:
    """The access key id a local function signs with: fixed per function, so logs can tell them apart."""
    return "ASIA" + hashlib.sha256(function.encode()).hexdigest()[:16].upper()


class IamGuard:
    """Authorizes the calls of the deployed functions, and of the customer sessions they assume."""

    def __init__(self, policies: DeployedPolicies, account_id: str) -> None:
        self.policies = policies
        self.account_id = account_id
        self._lock = threading.Lock()
        self._principals = {
            function_access_key(name): self._function(role) for name, role in policies.functions.items()
        }
        self.allowed: Counter[tuple[str, str, str]] = Counter()
        self.denials: list[Denial] = []

    def _function(self, role: FunctionRole) -> _Principal:
        role_name = role.role_arn.rsplit("/", 1)[-1]
        arn = f"arn:aws:sts::{self.account_id}:assumed-role/{role_name}/carbonmeter-{role.function}"
        return _Principal(arn=arn, role_arn=role.role_arn, policies=(("identity-based policy", role.policy),))

    def session(self, function: str) -> boto3.Session:
        """A boto3 session with ``function``'s own credentials."""
        if function not in self.policies.functions:
            raise KeyError(f"the stack deploys no function named {function!r}")
        return boto3.Session(
            aws_access_key_id=function_access_key(function),
            aws_secret_access_key=f"local-{function}-secret",
            aws_session_token=f"local-{function}-session",
        )

    def hooks(self) -> tuple[EventHook, ...]:
        return (
            ("before-parameter-build", self._note_access),
            ("request-created", self._authorize),
            ("after-call.sts.AssumeRole", self._remember_session),
        )

    def _note_access(self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        region = str(context.get("client_region") or "us-east-1")
        context[_REQUIRED] = required_access(
            model.service_model.endpoint_prefix, model.name, params, region, self.account_id
        )
        if model.name == "AssumeRole":
            context[_ASSUMING] = (
                params["RoleArn"],
                params.get("ExternalId"),
                params["RoleSessionName"],
                params.get("Policy"),
            )

    def _authorize(self, request: Any, operation_name: str, **_: Any) -> None:
        required: Sequence[Access] | None = request.context.get(_REQUIRED)
        principal = self._principal_of(request.headers.get("Authorization", ""))
        if required is None or principal is None:
            return
        for access in required:
            reason = principal.refusal(access) or self._trust_refusal(request.context, principal, access)
            if reason is not None:
                self._deny(principal, access, reason, operation_name)
            with self._lock:
                self.allowed[(principal.arn, access.action, access.resource)] += 1

    def _trust_refusal(self, context: dict[str, Any], caller: _Principal, access: Access) -> str | None:
        if _ASSUMING not in context:
            return None
        role_arn, external_id, session_name, session_policy = context[_ASSUMING]
        customer = self.policies.customer_role
        if role_arn.rsplit("/", 1)[-1] != customer.role_name:
            return f"{role_arn} is not the role the customer stack creates ({customer.role_name})"
        values = {"sts:ExternalId": external_id} if external_id else {}
        if not customer.trust(external_id).allows(access.action, None, principal=caller.role_arn, context=values):
            return f"the trust policy of {role_arn} does not allow {caller.role_arn}"
        context[_ASSUMED] = _Assumption(role_arn, external_id, session_name, session_policy, caller)
        return None

    def _remember_session(self, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        assumption = context.get(_ASSUMED)
        credentials = parsed.get("Credentials")
        if not isinstance(assumption, _Assumption) or not credentials:
            return
        policies = [("identity-based policy", self.policies.customer_role.policy)]
        if assumption.session_policy:
            policies.append(("session policy", Policy.of([json.loads(assumption.session_policy)])))
        account, role_name = assumption.role_arn.split(":")[4], assumption.role_arn.rsplit("/", 1)[-1]
        principal = _Principal(
            arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{assumption.session_name}",
            role_arn=assumption.role_arn,
            policies=tuple(policies),
        )
        with self._lock:
            self._principals[credentials["AccessKeyId"]] = principal

    def _principal_of(self, authorization: str) -> _Principal | None:
        match = _CREDENTIAL.search(authorization)
        if match is None:
            return None
        with self._lock:
            return self._principals.get(match.group(1))

    def _deny(self, principal: _Principal, access: Access, reason: str, operation_name: str) -> None:
        with self._lock:
            self.denials.append(Denial(principal.arn, access.action, access.resource, reason))
        message = (
            f"User: {principal.arn} is not authorized to perform: {access.action} on resource: "
            f"{access.resource} because {reason}"
        )
        error = {"Code": access_denied_code(access.action), "Message": message}
        raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}, operation_name)
