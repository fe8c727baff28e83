"""Connections for tests on the embedded AWS, in the account moto answers as."""

from __future__ import annotations

from carbonmeter.models import Connection

ACCOUNT_ID = "123456789012"


def connection_for(*regions: str) -> Connection:
    return Connection(
        connection_id="acme-prod",
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/CarbonMeterReadOnly",
        external_id="acme-external-id",
        regions=regions,
    )
