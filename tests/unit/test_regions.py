"""Region names as users type them: known ones taken (in any case), unknown ones refused with the closest."""

from __future__ import annotations

import pytest

from carbonmeter.aws import LOCAL_ENDPOINT_CREDENTIALS, ClientFactory
from carbonmeter.regions import UnknownRegionError, parse_regions
from carbonmeter.settings import Settings


def test_known_regions_are_taken_in_order_lower_cased_and_once():
    assert parse_regions(["eu-west-1", "US-EAST-1", "us-east-1", " ap-southeast-2 "]) == (
        "eu-west-1",
        "us-east-1",
        "ap-southeast-2",
    )


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("us-east-l", "us-east-1"),  # a letter l for the digit 1
        ("eu-west-O", "eu-west-1"),  # no eu-west-0: the closest by spelling
        ("eu-wset-1", "eu-west-1"),
        ("ap-southeast2", "ap-southeast-2"),
    ],
)
def test_a_typo_is_refused_with_the_closest_region(typed, suggested):
    with pytest.raises(UnknownRegionError) as refused:
        parse_regions(["us-east-1", typed])
    assert str(refused.value) == f"unknown region(s): {typed.lower()} (did you mean {suggested}?)"


def test_nothing_like_a_region_gets_no_suggestion():
    with pytest.raises(UnknownRegionError, match=r"^unknown region\(s\): banana$"):
        parse_regions(["banana"])
    with pytest.raises(UnknownRegionError, match="no region given"):
        parse_regions([" "])


def test_a_local_endpoint_gets_every_call_and_placeholder_credentials(monkeypatch):
    # Given real-looking credentials in the environment and a local CarbonMeter's endpoint in the settings
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALUSERKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    settings = Settings.from_env({"CARBONMETER_ENDPOINT_URL": "http://127.0.0.1:4599"})
    factory = ClientFactory(settings=settings)
    # Then clients and resources go to it, signed with the placeholders, never with the user's own
    client = factory.client("dynamodb")
    assert client.meta.endpoint_url == "http://127.0.0.1:4599"
    assert factory.resource("dynamodb").meta.client.meta.endpoint_url == "http://127.0.0.1:4599"
    credentials = factory.session.get_credentials()
    assert credentials.access_key == LOCAL_ENDPOINT_CREDENTIALS["aws_access_key_id"]
    # And without the setting, nothing changes: AWS's endpoints and the usual credential chain
    plain = ClientFactory(settings=Settings.from_env({}))
    assert plain.client("dynamodb").meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
    assert plain.session.get_credentials().access_key == "AKIAREALUSERKEY00000"
