"""Anomaly checks in DynamoDB and alerts on SNS (moto): stored once, alerted once, within the read budget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from carbonmeter.aws import ClientFactory
from carbonmeter.insights.anomalies.alerts import SnsAlerts
from carbonmeter.insights.anomalies.detection import Direction, Kind, Thresholds
from carbonmeter.insights.anomalies.records import AlertState
from carbonmeter.insights.anomalies.watch import check_hour, list_anomalies
from carbonmeter.models import HOUR, Connection, EmissionRecord, Rollup, Service
from carbonmeter.settings import Settings
from carbonmeter.store import AnomalyStore, ConnectionStore
from carbonmeter.windows import WindowError
from devtools.aws.resources import create_resources
from devtools.insights import InsightContext
from devtools.insights.anomalies import anomalies_part

CONNECTION = "acme"
START = datetime(2026, 11, 20, tzinfo=UTC)
JUMP = START + timedelta(days=2, hours=10)
THRESHOLDS = Thresholds.of(Settings())
# Per calculated hour with nothing anomalous: one BatchGetItem of the checks, one PutItem of its own.
QUIET_HOUR_REQUESTS = 2


@pytest.fixture
def settings(aws_credentials) -> Iterator[Settings]:
    with mock_aws():
        factory = ClientFactory(settings=Settings())
        yield create_resources(factory, factory.settings)


@pytest.fixture
def clients(settings) -> ClientFactory:
    return ClientFactory(settings=settings)


@pytest.fixture
def store(clients, settings) -> AnomalyStore:
    return AnomalyStore(clients, settings.emissions_table)


@pytest.fixture
def inbox(clients, settings) -> str:
    """A queue subscribed to the anomaly topic: every alert published lands there."""
    sqs = clients.client("sqs")
    url = sqs.create_queue(QueueName="anomaly-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    clients.client("sns").subscribe(TopicArn=settings.anomaly_topic_arn, Protocol="sqs", Endpoint=arn)
    return str(url)


def _received(clients: ClientFactory, inbox: str) -> list[dict]:
    sqs = clients.client("sqs")
    messages = []
    while batch := sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=inbox, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return messages


def _kg(hour: datetime, jumps: dict[datetime, float]) -> float:
    """A daily pattern (busier by day), times the factor of a jump hour."""
    return (0.5 + (0.3 if 8 <= hour.hour < 20 else 0.0)) * jumps.get(hour, 1.0)


def _hour(store: AnomalyStore, hour: datetime, jumps: dict[datetime, float], publisher=None):
    kg = _kg(hour, jumps)
    rollup = Rollup(
        connection_id=CONNECTION,
        hour=hour,
        region="eu-west-1",
        service=Service.EC2,
        resources=2,
        energy_kwh=kg * 4,
        operational_kgco2e=kg * 0.9,
        embodied_kgco2e=kg * 0.1,
        methodology_version="1.2",
    )
    records = [_record(hour, "i-big", kg * 0.8), _record(hour, "i-small", kg * 0.2)]
    return check_hour(store, CONNECTION, hour, [rollup], records, THRESHOLDS, publisher)


def _record(hour: datetime, resource_id: str, kg: float) -> EmissionRecord:
    return EmissionRecord(
        connection_id=CONNECTION,
        account_id="111122223333",
        hour=hour,
        region="eu-west-1",
        service=Service.EC2,
        resource_id=resource_id,
        resource_type="m5.large",
        hours=1,
        compute_kwh=kg * 4,
        memory_kwh=0,
        storage_kwh=0,
        network_kwh=0,
        operational_kgco2e=kg,
        embodied_kgco2e=0,
        grid_kgco2e_per_kwh=0.25,
        methodology_version="1.2",
    )


def _run(store, hours, jumps, publisher=None) -> list:
    return [_hour(store, hour, jumps, publisher) for hour in hours]


def _hours(count: int, start: datetime = START) -> list[datetime]:
    return [start + i * HOUR for i in range(count)]


JUMPS = {JUMP + i * HOUR: 2.5 for i in range(5)}


def test_a_jump_is_stored_with_its_figures_and_alerted_once(clients, settings, store, inbox):
    # Given three days of a daily pattern whose hours from JUMP are 2.5 times as large for five hours
    publisher = SnsAlerts(clients, settings.anomaly_topic_arn)
    _run(store, _hours(72), JUMPS, publisher)
    # Then one anomaly is stored: the five hours, upwards, with what was expected and observed
    (anomaly,) = list_anomalies(store, CONNECTION, START, START + timedelta(days=3))
    assert (anomaly.kind, anomaly.direction) == (Kind.EMISSIONS, Direction.UP)
    assert (anomaly.start, anomaly.end) == (JUMP, JUMP + 5 * HOUR)
    assert anomaly.expected == pytest.approx(0.8)
    assert anomaly.observed == pytest.approx(2.0)
    assert [c.resource_id for c in anomaly.contributors] == ["i-big", "i-small"]
    assert anomaly.alert is AlertState.SENT
    # and exactly one alert reached the topic's subscribers, naming it
    (alert,) = _received(clients, inbox)
    assert alert["Subject"] == "CarbonMeter anomaly: acme ec2 eu-west-1 CO2e up"
    assert anomaly.anomaly_id in alert["Message"]


def test_recalculating_any_hour_never_sends_a_second_alert(clients, settings, store, inbox):
    # Given the anomaly found and alerted
    publisher = SnsAlerts(clients, settings.anomaly_topic_arn)
    _run(store, _hours(72), JUMPS, publisher)
    assert len(_received(clients, inbox)) == 1
    before = list_anomalies(store, CONNECTION, START, START + timedelta(days=3))
    # When its hours are calculated again, out of order and twice (retries, a backfill)
    again = sorted(JUMPS, reverse=True) + sorted(JUMPS)
    _run(store, again, JUMPS, publisher)
    # Then nothing more is published and the anomaly is the same one
    assert _received(clients, inbox) == []
    assert list_anomalies(store, CONNECTION, START, START + timedelta(days=3)) == before


def test_a_second_jump_within_the_quiet_period_is_stored_but_not_alerted(clients, settings, store, inbox):
    # Given a second jump of the same series eleven hours after the first ended, and a third two days later
    second = JUMP + 16 * HOUR
    third = JUMP + timedelta(days=2)
    jumps = JUMPS | {h + i * HOUR: 2.5 for h in (second, third) for i in range(5)}
    _run(store, _hours(24 * 5), jumps, SnsAlerts(clients, settings.anomaly_topic_arn))
    # Then all three are stored, the second one quiet, and two alerts were sent
    anomalies = list_anomalies(store, CONNECTION, START, START + timedelta(days=5))
    assert [(a.start, a.alert) for a in anomalies] == [
        (JUMP, AlertState.SENT),
        (second, AlertState.QUIET),
        (third, AlertState.SENT),
    ]
    assert len(_received(clients, inbox)) == 2


def test_a_failed_publish_leaves_the_alert_pending_and_the_retry_sends_it(clients, settings, store, inbox):
    class Down:
        def publish(self, anomaly):
            raise ConnectionError("SNS unreachable")

    # Given the history, and the hour that completes the anomaly failing to publish
    hours = _hours(72)
    completing = JUMP + 2 * HOUR
    _run(store, [h for h in hours if h < completing], JUMPS)
    with pytest.raises(ConnectionError):
        _hour(store, completing, JUMPS, Down())
    (pending,) = list_anomalies(store, CONNECTION, START, completing + HOUR)
    assert pending.alert is AlertState.PENDING
    # When the calculation is retried
    outcome = _hour(store, completing, JUMPS, SnsAlerts(clients, settings.anomaly_topic_arn))
    # Then the alert goes out, once
    assert outcome.alerts_sent == 1
    assert len(_received(clients, inbox)) == 1


def test_without_a_topic_anomalies_are_stored_and_marked_unsent(store):
    _run(store, _hours(72), JUMPS)
    (anomaly,) = list_anomalies(store, CONNECTION, START, START + timedelta(days=3))
    assert anomaly.alert is AlertState.UNSENT


def test_a_calculated_hour_reads_its_history_within_the_request_budget(settings, store):
    # Given eight days of hours already checked
    _run(store, _hours(24 * 8), {})
    counted = ClientFactory(settings=settings)
    # When one more hour is checked, its model needing the same hour of past weeks and days and the last hours
    _hour(AnomalyStore(counted, settings.emissions_table), START + timedelta(days=8), {})
    # Then it took one read and one write, whatever the length of the history
    calls = counted.counter.calls
    assert sum(n for call, n in calls.items() if call.startswith("dynamodb:")) == QUIET_HOUR_REQUESTS
    assert calls["dynamodb:BatchGetItem"] == 1


def test_the_listing_keeps_the_window_and_refuses_an_empty_one(store):
    _run(store, _hours(72), JUMPS)
    assert list_anomalies(store, CONNECTION, START, JUMP) == []
    assert len(list_anomalies(store, CONNECTION, JUMP + 4 * HOUR, JUMP + 5 * HOUR)) == 1
    with pytest.raises(WindowError, match="must end after it starts"):
        list_anomalies(store, CONNECTION, JUMP, JUMP)


def test_the_demo_reports_part_lists_each_anomaly_in_a_line(clients, settings, store):
    # Given the jump stored for a registered connection
    ConnectionStore(clients, settings.connections_table).put(
        Connection(
            connection_id=CONNECTION,
            role_arn="arn:aws:iam::111122223333:role/CarbonMeterReadOnly",
            external_id="x" * 32,
            regions=("eu-west-1",),
        )
    )
    _run(store, _hours(72), JUMPS)
    # When the demo report's insights section is made, and when nothing is anomalous
    text = anomalies_part(InsightContext(settings, clients, CONNECTION, START, START + timedelta(days=3)))
    quiet = anomalies_part(InsightContext(settings, clients, CONNECTION, START, JUMP))
    # Then the part has a heading, one line per anomaly and the largest resources; and nothing when there is none
    assert text.splitlines() == [
        "Anomalies: 1 (carbonmeter anomalies; docs/insights.md#anomalies)",
        "  emissions  ec2 in eu-west-1 up from 2026-11-22T10:00:00Z to 2026-11-22T15:00:00Z: 2.0000 kg CO2e/h "
        "observed, 0.8000 expected (+6.0000 kg over 5 h); alert unsent",
        "  largest in ec2/eu-west-1, an hour: m5.large (1.6000 kg), m5.large (0.4000 kg)",
    ]
    assert quiet == ""


def test_a_resent_claim_still_wins_and_another_caller_loses(store):
    # Given a pending anomaly (stored without a topic, then set pending by hand)
    _run(store, _hours(72), JUMPS)
    (anomaly,) = list_anomalies(store, CONNECTION, START, START + timedelta(days=3))
    assert store.move_alert(anomaly, AlertState.UNSENT, AlertState.PENDING, "setup")
    pending = anomaly.model_copy(update={"alert": AlertState.PENDING})
    # When one caller claims it, and botocore resends that same call (its first reply lost)
    assert store.move_alert(pending, AlertState.PENDING, AlertState.SENT, "claim-1")
    assert store.move_alert(pending, AlertState.PENDING, AlertState.SENT, "claim-1")
    # Then a second caller cannot claim it too
    assert not store.move_alert(pending, AlertState.PENDING, AlertState.SENT, "claim-2")
    stored = store.get(pending)
    assert stored is not None
    assert stored.alert is AlertState.SENT


def test_extending_an_anomaly_keeps_its_alert_state(clients, settings, store):
    # Given an anomaly alerted, and a calculation that read it before it was (still pending)
    publisher = SnsAlerts(clients, settings.anomaly_topic_arn)
    _run(store, _hours(72), JUMPS, publisher)
    (sent,) = list_anomalies(store, CONNECTION, START, START + timedelta(days=3))
    stale = sent.model_copy(update={"alert": AlertState.PENDING})
    # When that calculation extends it by an hour
    later = {"2026-11-22T15:00:00Z": sent.hours["2026-11-22T14:00:00Z"]}
    store.extend(stale.extended(later), later)
    # Then the hour and the end are there, and the alert is still sent
    (extended,) = list_anomalies(store, CONNECTION, START, START + timedelta(days=3))
    assert extended.end == sent.end + HOUR
    assert "2026-11-22T15:00:00Z" in extended.hours
    assert extended.alert is AlertState.SENT
