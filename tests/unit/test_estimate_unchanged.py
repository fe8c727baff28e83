"""The builtin estimate's figures, byte for byte, on a seeded fleet of every service.

The estimate is tuned for speed (docs/benchmarks.md, "Calculator throughput"); a change made for speed must not
move a single figure. The digest is of the emission records' JSON, one line each, for ``usage_fleet()``: when a
change of the methodology moves figures on purpose (and bumps ``METHODOLOGY_VERSION``), the new digest, what
``fleet_digest()`` returns, goes in with that change.
"""

from __future__ import annotations

import hashlib

from carbonmeter.emissions import methodology
from carbonmeter.emissions.providers import BuiltinProvider
from carbonmeter.models import EmissionRecord
from tests.support.usage_fleet import usage_fleet

EXPECTED = {
    "ccf-corrected-1.3": "f69dca19a92e5f515b779d2bb7a31d8a6d2f5cb2e36dec4f3c52c4a005efda3e",
}


def fleet_digest() -> str:
    records = BuiltinProvider().estimate(usage_fleet())
    return hashlib.sha256("\n".join(record.model_dump_json() for record in records).encode()).hexdigest()


def test_the_seeded_fleet_of_every_service_is_estimated_exactly_as_before() -> None:
    # Given 480 usage records of the twelve services, When the builtin provider estimates them,
    # Then their JSON is byte for byte what it was
    assert fleet_digest() == EXPECTED[methodology.METHODOLOGY_VERSION]


def test_a_record_built_without_validation_is_the_record_validation_builds() -> None:
    # Given the builtin estimate's records (built without validation, from values of its own)
    records = BuiltinProvider().estimate(usage_fleet(per_service=5))
    for record in records:
        # When each is validated from its own fields, as a keyword call would build it
        validated = EmissionRecord(**{name: getattr(record, name) for name in record.model_fields_set})
        # Then it is equal, holds the same values of the same types, and dumps the same
        assert validated == record
        assert [type(value) for value in validated.__dict__.values()] == [type(v) for v in record.__dict__.values()]
        assert validated.model_fields_set == record.model_fields_set
        assert validated.model_dump_json() == record.model_dump_json()
