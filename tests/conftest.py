"""Fixtures shared by the tiers that talk to an emulated AWS."""

from __future__ import annotations

import os

import pytest

# Powertools reads these when a handler module is imported, which happens at collection time.
for _name, _value in {
    "POWERTOOLS_SERVICE_NAME": "carbonmeter",
    "POWERTOOLS_METRICS_NAMESPACE": "CarbonMeter",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}.items():
    os.environ.setdefault(_name, _value)

OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no profile, so nothing can reach a real account."""
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
