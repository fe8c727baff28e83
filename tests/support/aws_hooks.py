"""Botocore hooks (``ClientFactory(hooks=...)``) that make the embedded AWS refuse as the real one does."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse

from carbonmeter.aws import EventHook


def deny_assume_role(role_name_part: str) -> EventHook:
    """A hook that makes STS refuse AssumeRole for matching roles, as for a wrong ExternalId."""

    def refuse(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if role_name_part not in str(params.get("body", "")):
            return None
        error = {"Code": "AccessDenied", "Message": "User is not authorized to perform: sts:AssumeRole"}
        return AWSResponse("https://sts.invalid/", 403, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    return ("before-call.sts.AssumeRole", refuse)
