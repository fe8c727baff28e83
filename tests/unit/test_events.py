"""The example events shipped in events/ are what the README tells users to send."""

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ValidationError

from carbonmeter.scheduling import BackfillRequest

EVENTS = Path(__file__).parents[2] / "events"


def _load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_scheduled_example_is_an_eventbridge_scheduled_event():
    event = parse(event=_load("scheduled-hour.json"), model=EventBridgeModel)
    assert event.detail_type == "Scheduled Event"
    assert event.time.minute == 0


def test_backfill_example_asks_for_one_day():
    request = BackfillRequest.model_validate(_load("backfill-one-day.json"))
    assert (request.end - request.start).total_seconds() == 24 * 3600


def test_bad_window_example_is_refused():
    with pytest.raises(ValidationError, match="whole hour"):
        BackfillRequest.model_validate(_load("backfill-bad-window.json"))


def test_the_backfill_examples_name_a_placeholder_not_a_real_connection():
    # A copy sent as is must fail on an unknown connection, never backfill someone's (or the demo's) connection
    for name in ("backfill-one-day.json", "backfill-bad-window.json"):
        assert _load(name)["connection_ids"] == ["your-connection-id"], name
