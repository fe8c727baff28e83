"""The docs' per-service tables and lists follow the registry: a service added without its docs fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from carbonmeter.services import READ_ACTIONS, SLICES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _per_service_rows() -> set[str]:
    methodology = (DOCS / "methodology.md").read_text()
    section = methodology.split("## Per service", 1)[1].split("\n## ", 1)[0]
    # A row names the service as people write it ("API Gateway"): compared without case or spaces.
    rows = re.findall(r"^\| ([A-Za-z0-9 ]+?) \|", section, re.MULTILINE)
    return {match.lower().replace(" ", "") for match in rows}


@pytest.mark.parametrize("service", sorted(SLICES))
def test_the_methodology_has_a_row_for_every_registered_service(service):
    assert service.value in _per_service_rows()


def test_the_security_doc_lists_exactly_the_read_actions_of_the_registry():
    security = (DOCS / "security.md").read_text()
    paragraph = security.split("### Session policy", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", paragraph))
    assert listed == set(READ_ACTIONS)
