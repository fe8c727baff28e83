"""Sections of the docs that a workbench command writes (the demo's sample, the cost table): read and replaced
between their two marker lines, so that a test can compare them with what the command prints now."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GeneratedSection:
    """The text between ``begin`` and ``end`` (each a line of its own), inside a ``fence`` block when given."""

    begin: str
    end: str
    fence: str = ""

    def read(self, document: str) -> str:
        opening, closing = (f"```{self.fence}\n", "```\n") if self.fence else ("", "")
        pattern = rf"^{re.escape(self.begin)}\n{re.escape(opening)}(.*?)^{re.escape(closing)}{re.escape(self.end)}$"
        match = re.search(pattern, document, re.S | re.M)
        if match is None:
            raise ValueError(f"no generated section between {self.begin!r} and {self.end!r}")
        return match.group(1)

    def write(self, path: Path, text: str) -> None:
        document = path.read_text(encoding="utf-8")
        old = f"{self.begin}\n{self._fenced(self.read(document))}"
        path.write_text(document.replace(old, f"{self.begin}\n{self._fenced(text)}", 1), encoding="utf-8")

    def _fenced(self, text: str) -> str:
        return f"```{self.fence}\n{text}```\n" if self.fence else text
