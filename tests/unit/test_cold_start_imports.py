"""What each Lambda handler imports on a cold start: only what its every message needs (docs/benchmarks.md).

Each import runs in a fresh interpreter in the environment Lambda gives the function (tracing on), and the test
reads that interpreter's ``sys.modules``: a behaviour, not a timing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from devtools.cold_starts import HANDLERS, lambda_like_environment, modules_after_import

REMOTE_PROVIDERS = (
    "carbonmeter.emissions.providers.boavizta",
    "carbonmeter.emissions.providers.http_api",
    "carbonmeter.emissions.providers.oxygenit",
    "carbonmeter.emissions.providers.transport",
    "requests",
)
# The daily and monthly insights' jobs, and the operator's access checks: not the hourly messages.
OCCASIONAL = ("carbonmeter.insights.costs", "carbonmeter.insights.reconciliation", "carbonmeter.connections")
COLLECTION = ("carbonmeter.collection", "carbonmeter.collect_step", "carbonmeter.services")
CALCULATION = ("carbonmeter.calculate_step", "carbonmeter.insights.anomalies.watch")
# The anomaly detector's records: the calculator's, loaded by the anomaly store only where it reads them back.
ANOMALIES = ("carbonmeter.insights.anomalies.records", "carbonmeter.insights.anomalies.detection")

NOT_AT_IMPORT = {
    "collector": (*REMOTE_PROVIDERS, *OCCASIONAL, *CALCULATION, *ANOMALIES),
    "scheduler": (*REMOTE_PROVIDERS, *OCCASIONAL, *COLLECTION, *CALCULATION, *ANOMALIES),
    # The report's module brings the collectors' slices; an anomaly alert imports it when it sends one.
    "calculator": (*REMOTE_PROVIDERS, *OCCASIONAL, *COLLECTION, "carbonmeter.report"),
}


@pytest.fixture(scope="module")
def lambda_env() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="task-root-") as task_root:
        yield lambda_like_environment(task_root)


@pytest.fixture(scope="module")
def imported(lambda_env: dict[str, str]) -> dict[str, frozenset[str]]:
    return {name: modules_after_import(HANDLERS[name], lambda_env) for name in NOT_AT_IMPORT}


@pytest.mark.parametrize("handler", sorted(NOT_AT_IMPORT))
def test_a_cold_start_imports_nothing_its_hourly_messages_do_not_need(
    handler: str, imported: dict[str, frozenset[str]]
) -> None:
    # Given a fresh interpreter as Lambda starts it, When it imports the handler, Then none of these is loaded
    loaded = sorted(name for name in NOT_AT_IMPORT[handler] if name in imported[handler])
    assert loaded == []


@pytest.mark.parametrize("handler", sorted(NOT_AT_IMPORT))
def test_tracing_stays_on_for_the_aws_calls(handler: str, imported: dict[str, frozenset[str]]) -> None:
    # The X-Ray SDK's botocore patch is in place from the start; the libraries the function does not use are not.
    assert "aws_xray_sdk.ext.botocore.patch" in imported[handler]
    assert "aws_xray_sdk.ext.sqlite3.patch" not in imported[handler]


def test_a_remote_provider_is_still_reachable_from_the_providers_package() -> None:
    # The remote providers load on first use of their names, so every existing import of them still works.
    from carbonmeter.emissions import providers
    from carbonmeter.emissions.providers.boavizta import BoaviztaProvider

    assert providers.BoaviztaProvider is BoaviztaProvider
    with pytest.raises(AttributeError, match="NoSuchProvider"):
        _ = providers.NoSuchProvider
