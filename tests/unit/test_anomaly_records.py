"""An anomaly's identity, its extension by later hours, and its alert's text."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from carbonmeter.insights.anomalies import alerts
from carbonmeter.insights.anomalies.detection import Direction, Kind, Method
from carbonmeter.insights.anomalies.records import Anomaly, HourFigures
from carbonmeter.models import HOUR, Service, hour_key

START = datetime(2026, 11, 30, 2, tzinfo=UTC)


def _anomaly(**overrides) -> Anomaly:
    fields = {
        "connection_id": "acme",
        "region": "us-east-1",
        "service": Service.EC2,
        "kind": Kind.EMISSIONS,
        "direction": Direction.UP,
        "start": START,
        "end": START + 3 * HOUR,
        "method": Method.HOUR_OF_DAY,
        "hours": {hour_key(START + k * HOUR): HourFigures(expected=0.1, observed=0.3, z=9.0) for k in range(3)},
    }
    return Anomaly(**(fields | overrides))


def test_the_id_names_the_series_kind_direction_and_start_only():
    assert _anomaly().anomaly_id == "acme/us-east-1/ec2/emissions/up/2026-11-30T02:00:00Z"
    assert _anomaly(end=START + 9 * HOUR).anomaly_id == _anomaly().anomaly_id


def test_an_hour_found_again_replaces_its_figures_and_a_later_one_extends_the_end():
    anomaly = _anomaly()
    again = anomaly.extended({hour_key(START + HOUR): HourFigures(expected=0.1, observed=0.3, z=9.0)})
    assert again == anomaly
    later = anomaly.extended({hour_key(START + 4 * HOUR): HourFigures(expected=0.1, observed=0.5, z=12.0)})
    assert later.end == START + 5 * HOUR
    assert len(later.hours) == 4
    assert later.excess == pytest.approx(0.2 * 3 + 0.4)


def test_the_alert_says_what_moved_in_one_line_then_gives_the_anomaly_as_json():
    anomaly = _anomaly()
    summary, document = alerts.message(anomaly).split("\n\n", 1)
    assert summary == (
        "ec2 in us-east-1 up from 2026-11-30T02:00:00Z to 2026-11-30T05:00:00Z: 0.3000 kg CO2e/h observed, "
        "0.1000 expected (+0.6000 kg over 3 h)"
    )
    assert json.loads(document)["anomaly_id"] == anomaly.anomaly_id


def test_the_subject_fits_what_sns_accepts():
    long_id = _anomaly(connection_id="c" * 64, region="ap-southeast-2", service=Service.ELASTICACHE)
    assert len(alerts.subject(long_id)) <= alerts.SUBJECT_LIMIT
    assert alerts.subject(_anomaly(kind=Kind.RESOURCES)) == "CarbonMeter anomaly: acme ec2 us-east-1 resource count up"
