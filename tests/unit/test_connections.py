"""Registering a connection: which ExternalIds pass, and what a registration may not silently do to another.

The registry is an in-memory stand-in with the three calls the use case makes, so nothing leaves the process.
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from carbonmeter.connections import (
    ACCESS_CHECKS,
    MIN_ESTIMATED_BITS,
    AccessCheck,
    AccessCheckError,
    CollectorCheckError,
    ConnectionEnabledError,
    ConnectionExistsError,
    ExternalIdError,
    RegionCheck,
    RegistrationError,
    RegistrationRequest,
    SharedRoleError,
    check_access_through_collector,
    check_connection,
    disable_connection,
    enable_connection,
    estimated_bits,
    external_id_problem,
    generate_external_id,
    list_connections,
    register_connection,
    remove_connection,
    sts_external_id_problem,
    validate_external_id,
)
from carbonmeter.models import Connection
from carbonmeter.store import UnknownConnectionError

NOW = datetime(2026, 11, 23, 14, 7, tzinfo=UTC)
ROLE = "arn:aws:iam::111122223333:role/CarbonMeterReadOnly"
OTHER_ROLE = "arn:aws:iam::444455556666:role/CarbonMeterReadOnly"
SECRET = "PgxYJIDXu7SOzKFQ4zmaLCaOnqg_dcJaTPsRkfpiAGg"
OTHER_SECRET = "MzANlIO6jeygPpDArkzRJSDJgtnuBjcjXDxMYHeVxLQ"

WEAK = {
    "repeated letter": "a" * 16,
    "alternating": "ab" * 8,
    "hex digits in order": "0123456789abcdef",
    "the alphabet": "abcdefghijklmnopqrstuvwxyz",
    "a stepped run": "acegikmoqsuwy" * 2,
    "a run repeated to length": "0123456789" * 100,
    "too few different characters, however long": "abcdefg" * 100,
    "a word and a number": "carbonmeter-2026",
}
REFUSED_BY_STS = {
    "space": "PgxYJIDXu7SOz KFQ4zmaLCaOnqg_dcJaTPsRkf",
    "non-ASCII letter": "PgxYJIDXu7SOzéKFQ4zmaLCaOnqg_dcJaTPsRkf",
    "non-ASCII digit": "PgxYJIDXu7SOz٣KFQ4zmaLCaOnqg_dcJaTPsRkf",
    "trailing newline": SECRET + "\n",
    "too long": secrets.token_urlsafe(1000)[:1225],
}


class Registry:
    """The registry as the use case sees it, in memory."""

    def __init__(self, *connections: Connection) -> None:
        self.connections = {c.connection_id: c for c in connections}
        self.taken_meanwhile: set[str] = set()

    def list(self) -> Iterator[Connection]:
        return iter(list(self.connections.values()))

    def get(self, connection_id: str) -> Connection:
        if connection_id not in self.connections:
            raise UnknownConnectionError(f"no connection named {connection_id!r}")
        return self.connections[connection_id]

    def delete(self, connection_id: str) -> None:
        del self.connections[connection_id]

    def put(self, connection: Connection) -> None:
        self.connections[connection.connection_id] = connection

    def set_enabled(self, connection_id: str, enabled: bool) -> None:
        self.connections[connection_id] = self.connections[connection_id].model_copy(update={"enabled": enabled})

    def put_new(self, connection: Connection) -> bool:
        if connection.connection_id in self.connections or connection.connection_id in self.taken_meanwhile:
            return False
        self.put(connection)
        return True


class NoRegistry:
    """A registry any call to which fails the test: bad input must be refused before the registry is read."""

    def list(self) -> Iterator[Connection]:
        raise AssertionError("the registry was read")

    def put(self, connection: Connection) -> None:
        raise AssertionError("the registry was written")

    def put_new(self, connection: Connection) -> bool:
        raise AssertionError("the registry was written")


def _request(connection_id: str = "acme", **changes: object) -> RegistrationRequest:
    request = RegistrationRequest(
        connection_id=connection_id, role_arn=ROLE, external_id=SECRET, regions=("us-east-1",)
    )
    return replace(request, **changes)  # type: ignore[arg-type]


def _stored(connection_id: str = "acme", **changes: object) -> Connection:
    fields = {"role_arn": ROLE, "external_id": SECRET, "regions": ("us-east-1",), "created_at": NOW - timedelta(days=9)}
    return Connection(connection_id=connection_id, **{**fields, **changes})  # type: ignore[arg-type]


# --- the ExternalId ---


def test_a_token_urlsafe_32_always_passes():
    for _ in range(20_000):
        validate_external_id(secrets.token_urlsafe(32))


@pytest.mark.parametrize("make", [lambda: str(uuid.uuid4()), lambda: secrets.token_hex(16)], ids=["uuid4", "hex16"])
def test_other_common_random_forms_pass(make):
    # ExternalIds operators may already have handed to customers must still register
    for _ in range(500):
        validate_external_id(make())


@pytest.mark.parametrize("value", WEAK.values(), ids=WEAK.keys())
def test_a_guessable_external_id_is_refused_without_quoting_it(value):
    with pytest.raises(ExternalIdError) as refused:
        validate_external_id(value)
    assert value not in str(refused.value)


@pytest.mark.parametrize("value", REFUSED_BY_STS.values(), ids=REFUSED_BY_STS.keys())
def test_an_external_id_sts_would_refuse_is_refused_without_quoting_it(value):
    with pytest.raises(ExternalIdError) as refused:
        validate_external_id(value)
    assert value.strip() not in str(refused.value)


def test_sts_alphabet_and_limits_are_accepted():
    # Given every character STS allows, in a random order, and the longest ExternalId STS takes
    alphabet = list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+=,.@:/-")
    secrets.SystemRandom().shuffle(alphabet)
    # Then both pass
    validate_external_id("".join(alphabet))
    validate_external_id(secrets.token_urlsafe(1000)[:1224])


def test_short_external_ids_are_refused_even_when_random():
    with pytest.raises(ExternalIdError, match="at least 16 characters"):
        validate_external_id(secrets.token_urlsafe(32)[:15])
    # no 16-character string reaches the entropy floor, however random
    assert estimated_bits("0123456789abcdef") < MIN_ESTIMATED_BITS
    with pytest.raises(ExternalIdError, match="easy to guess"):
        validate_external_id("Tr0ub4dor&3xyzqw".replace("&", "+"))


def test_the_estimate_counts_patterns_as_little_as_repetition():
    assert estimated_bits("a" * 16) == 0
    assert estimated_bits("abcdefghijklmnopqrstuvwxyz") == 0
    assert estimated_bits(SECRET) > 2 * MIN_ESTIMATED_BITS


def test_generated_external_ids_pass_and_differ():
    generated = {generate_external_id() for _ in range(200)}
    assert len(generated) == 200
    for value in generated:
        validate_external_id(value)
        assert len(value) == 43


# --- registering ---


def test_a_new_connection_is_stored_from_the_hour_it_is_registered():
    registry = Registry()
    result = register_connection(registry, _request(), NOW)
    assert registry.connections["acme"] == result.connection
    assert result.connection.created_at == NOW
    assert result.replaced is None
    assert result.shares_role_with == ()


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "disabled"])
def test_an_existing_id_is_not_replaced_unless_asked(enabled):
    # Given a registered connection with its history
    stored = _stored(enabled=enabled, last_success_hour="2026-11-20T00:00:00Z")
    registry = Registry(stored)
    # When it is registered again without asking to replace it
    with pytest.raises(ConnectionExistsError, match="already registered" + ("" if enabled else " and disabled")):
        register_connection(registry, _request(external_id=OTHER_SECRET), NOW)
    # Then it is untouched: still disabled if it was, its history kept
    assert registry.connections["acme"] == stored


def test_replacing_keeps_the_first_hour_and_says_it_re_enabled():
    registry = Registry(_stored(enabled=False))
    result = register_connection(registry, _request(external_id=OTHER_SECRET, replace=True), NOW)
    assert result.replaced == _stored(enabled=False)
    assert result.re_enabled
    assert registry.connections["acme"].enabled
    assert registry.connections["acme"].created_at == NOW - timedelta(days=9)
    assert registry.connections["acme"].external_id == OTHER_SECRET


def test_replace_of_an_unknown_id_registers_it():
    registry = Registry()
    result = register_connection(registry, _request(replace=True), NOW)
    assert result.replaced is None
    assert "acme" in registry.connections


def test_an_id_registered_meanwhile_is_not_overwritten():
    # Given another registration of the same id lands between our read and our write
    registry = Registry()
    registry.taken_meanwhile.add("acme")
    with pytest.raises(ConnectionExistsError, match="meanwhile"):
        register_connection(registry, _request(), NOW)


def test_each_connection_needs_its_own_external_id():
    registry = Registry(_stored("acme"))
    with pytest.raises(RegistrationError, match="already used by another connection") as refused:
        register_connection(registry, _request("other", role_arn=OTHER_ROLE), NOW)
    assert SECRET not in str(refused.value)
    assert set(registry.connections) == {"acme"}


@pytest.mark.parametrize("role", [ROLE, ROLE.replace("CarbonMeterReadOnly", "carbonmeterreadonly")])
def test_a_role_of_another_connection_is_refused_unless_sharing_is_allowed(role):
    registry = Registry(_stored("acme"))
    with pytest.raises(SharedRoleError, match="already the role of connection"):
        register_connection(registry, _request("other", role_arn=role, external_id=OTHER_SECRET), NOW)
    assert set(registry.connections) == {"acme"}
    request = _request("other", role_arn=role, external_id=OTHER_SECRET, allow_shared_role=True)
    result = register_connection(registry, request, NOW)
    assert result.shares_role_with == ("acme",)
    assert set(registry.connections) == {"acme", "other"}


def test_replacing_a_connection_does_not_count_its_own_role_as_shared():
    registry = Registry(_stored("acme"))
    result = register_connection(registry, _request(replace=True), NOW)
    assert result.shares_role_with == ()


def test_collect_from_sets_the_first_hour_and_may_not_be_in_the_future():
    registry = Registry()
    start = datetime(2026, 11, 20, tzinfo=UTC)
    assert register_connection(registry, _request(collect_from=start), NOW).connection.created_at == start
    with pytest.raises(RegistrationError, match="in the future"):
        register_connection(registry, _request("late", collect_from=NOW + timedelta(hours=1)), NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"external_id": "a" * 16},
        {"external_id": "not an ExternalId at all"},
        {"role_arn": "arn:aws:iam::1234:user/alice"},
        {"regions": ("mars-north-1",)},
        {"connection_id": "no spaces please"},
        {"collect_from": NOW + timedelta(days=1)},
    ],
)
def test_bad_input_is_refused_before_the_registry_is_touched(changes):
    with pytest.raises(RegistrationError):
        register_connection(NoRegistry(), _request(**changes), NOW)


def test_refusals_are_value_errors_and_the_request_hides_its_secret():
    assert issubclass(RegistrationError, ValueError)
    assert SECRET not in repr(_request())


# --- listing and disabling ---


def test_connections_are_listed_by_id_without_their_external_ids():
    registry = Registry(_stored("zeta"), _stored("acme", role_arn=OTHER_ROLE, external_id=OTHER_SECRET))
    listed = list_connections(registry)
    assert [c["connection_id"] for c in listed] == ["acme", "zeta"]
    assert listed[0]["account_id"] == "444455556666"
    assert all("external_id" not in c for c in listed)
    assert SECRET not in str(listed)
    assert OTHER_SECRET not in str(listed)


def test_a_disabled_connection_keeps_its_history():
    registry = Registry(_stored("acme", last_success_hour="2026-11-23T13:00:00Z"))
    disable_connection(registry, "acme")
    (listed,) = list_connections(registry)
    assert (listed["enabled"], listed["last_success_hour"]) == (False, "2026-11-23T13:00:00Z")


def test_a_disabled_connection_is_enabled_again_with_its_history():
    registry = Registry(_stored("acme", enabled=False, last_success_hour="2026-11-23T13:00:00Z"))
    enable_connection(registry, "acme")
    (listed,) = list_connections(registry)
    assert (listed["enabled"], listed["last_success_hour"]) == (True, "2026-11-23T13:00:00Z")


def test_only_a_disabled_connection_is_removed():
    # Given an enabled connection, which the hourly run may have queued hours of
    registry = Registry(_stored("acme"))
    # When it is removed, it is refused, and stays
    with pytest.raises(ConnectionEnabledError, match="disable it first"):
        remove_connection(registry, "acme")
    assert "acme" in registry.connections
    # When it is disabled first, it is removed, and what it was is returned
    disable_connection(registry, "acme")
    removed = remove_connection(registry, "acme")
    assert (removed.connection_id, removed.account_id) == ("acme", "111122223333")
    assert registry.connections == {}
    # And an unknown id is said so
    with pytest.raises(UnknownConnectionError):
        remove_connection(registry, "acme")


# --- checking access ---


class Checker:
    """An access check that records what it was asked and answers ``check``."""

    def __init__(self, *failing: str, assume_error: str | None = None) -> None:
        self.failing = failing
        self.assume_error = assume_error
        self.asked: list[tuple[str, str, tuple[str, ...]]] = []

    def __call__(self, role_arn: str, external_id: str, regions: tuple[str, ...]) -> AccessCheck:
        self.asked.append((role_arn, external_id, tuple(regions)))
        if self.assume_error:
            return AccessCheck(role_arn, assume_error=self.assume_error)
        checked = [RegionCheck(r, error="AccessDenied: no" if r in self.failing else None) for r in regions]
        return AccessCheck(role_arn, assume_error=None, regions=tuple(checked))


def test_a_registration_is_checked_last_and_stored_only_if_the_account_can_be_read():
    # Given a role that cannot be assumed with the ExternalId
    registry = Registry()
    refusing = Checker(assume_error="cannot assume the role: AccessDenied")
    # When it is registered with the check, it is refused, saying why, and nothing is stored
    with pytest.raises(AccessCheckError, match="cannot assume the role: AccessDenied"):
        register_connection(registry, _request(), NOW, check=refusing)
    assert registry.connections == {}
    assert refusing.asked == [(ROLE, SECRET, ("us-east-1",))]
    # Given a role that is assumed but one of two regions cannot be read
    partial = Checker("eu-west-1")
    with pytest.raises(AccessCheckError) as refused:
        register_connection(registry, _request(regions=("us-east-1", "eu-west-1")), NOW, check=partial)
    assert str(refused.value) == (
        f"assumed {ROLE}, but 1 of 2 region(s) could not be read: eu-west-1: AccessDenied: no"
    )
    assert SECRET not in str(refused.value)
    assert registry.connections == {}
    # When every region can be read, it is stored
    register_connection(registry, _request(), NOW, check=Checker())
    assert list(registry.connections) == ["acme"]


def test_a_registration_the_rules_refuse_is_not_checked():
    checker = Checker()
    with pytest.raises(ExternalIdError):
        register_connection(Registry(), _request(external_id="short"), NOW, check=checker)
    assert checker.asked == []


def test_checking_a_registered_connection_uses_its_own_role_external_id_and_regions():
    registry = Registry(_stored("acme", regions=("us-east-1", "eu-west-1")))
    checker = Checker("eu-west-1")
    check = check_connection(registry, "acme", checker)
    assert checker.asked == [(ROLE, SECRET, ("us-east-1", "eu-west-1"))]
    assert [(r.region, r.ok) for r in check.regions] == [("us-east-1", True), ("eu-west-1", False)]
    assert not check.ok


def test_an_estimate_may_use_any_external_id_sts_accepts_a_connection_may_not():
    # Two characters is STS's minimum: a role of one's own may have it, a connection may not
    assert sts_external_id_problem("ab") is None
    assert external_id_problem("ab") == "the ExternalId must be at least 16 characters (a random secret)"
    assert sts_external_id_problem("a") == "the ExternalId must be at least 2 characters (STS refuses shorter ones)"
    assert sts_external_id_problem(REFUSED_BY_STS["space"]) is not None
    assert sts_external_id_problem(SECRET) is None
    assert external_id_problem(SECRET) is None


class FakeLambda:
    """Lambda's Invoke as boto3 returns it: the payload as a stream, FunctionError when the function raised."""

    def __init__(self, payload: dict, function_error: str | None = None) -> None:
        self.payload = payload
        self.function_error = function_error
        self.requests: list[dict] = []

    def client(self, service: str) -> FakeLambda:
        assert service == "lambda"
        return self

    def invoke(self, FunctionName: str, Payload: str) -> dict:
        self.requests.append({"FunctionName": FunctionName, "Payload": json.loads(Payload)})
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.payload).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def test_the_collector_is_asked_with_the_request_and_its_answer_read_back():
    answer = AccessCheck(ROLE, assume_error=None, regions=(RegionCheck("us-east-1"), RegionCheck("eu-west-1", "no")))
    fake = FakeLambda(ACCESS_CHECKS.dump_python(answer, mode="json"))
    check = check_access_through_collector(fake, "carbonmeter-collector")  # type: ignore[arg-type]
    assert check(ROLE, SECRET, ("us-east-1", "eu-west-1")) == answer
    (request,) = fake.requests
    assert request == {
        "FunctionName": "carbonmeter-collector",
        "Payload": {"check_access": {"role_arn": ROLE, "external_id": SECRET, "regions": ["us-east-1", "eu-west-1"]}},
    }


def test_a_collector_that_fails_is_said_so_without_the_external_id():
    fake = FakeLambda({"errorType": "ValidationError", "errorMessage": "1 validation error"}, "Unhandled")
    check = check_access_through_collector(fake, "carbonmeter-collector")  # type: ignore[arg-type]
    with pytest.raises(CollectorCheckError) as failed:
        check(ROLE, SECRET, ("us-east-1",))
    assert str(failed.value) == (
        "the collector carbonmeter-collector failed the check: ValidationError: 1 validation error"
    )


# --- every enabled region ---


def test_a_connection_may_name_every_enabled_region_with_all():
    result = register_connection(Registry(), _request(regions=("all",)), NOW)
    assert result.connection.all_regions
    assert result.connection.regions == ("all",)


@pytest.mark.parametrize("regions", [("all", "us-east-1"), ("us-east-1", "all")], ids=["all-first", "all-last"])
def test_all_is_refused_beside_named_regions(regions):
    # Mixing them would leave it unclear whether the named ones are a limit or an addition.
    with pytest.raises(RegistrationError, match="every enabled region: name it alone"):
        register_connection(Registry(), _request(regions=regions), NOW)


def test_named_regions_are_still_checked_one_by_one():
    with pytest.raises(RegistrationError, match="'everywhere' is not an AWS region name"):
        register_connection(Registry(), _request(regions=("us-east-1", "everywhere")), NOW)
    assert not register_connection(Registry(), _request(regions=("us-east-1",)), NOW).connection.all_regions
