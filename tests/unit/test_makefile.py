"""``make help`` lists every target a user can run, whatever characters its name has."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _phony_targets() -> list[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (phony,) = re.findall(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    return phony.split()


def test_make_help_lists_every_phony_target():
    # Given every target the Makefile declares phony (test-e2e has a digit, distclean none)
    targets = _phony_targets()
    assert {"test-e2e", "local", "clean", "distclean"} <= set(targets)
    # When a user asks for help
    listed = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # Then each is listed, with what it does
    shown = dict(re.findall(r"^  make (\S+)\s+(.+)$", listed.stdout, re.MULTILINE))
    assert sorted(shown) == sorted(targets)
    assert all(description.strip() for description in shown.values())


def test_make_clean_keeps_what_needs_the_network_and_says_so():
    listed = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    clean = next(line for line in listed.stdout.splitlines() if line.startswith("  make clean "))
    assert ".venv" in clean
    assert ".build/wheels" in clean
    # And the target that removes them says that the next install needs the network
    distclean = next(line for line in listed.stdout.splitlines() if line.startswith("  make distclean "))
    assert "network" in distclean
