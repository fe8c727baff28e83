"""The browser tests' chromium: the workbench's (``devtools.browser``), which the page's benchmark drives too."""

from __future__ import annotations

from devtools.browser import CHROMIUM, chromium

__all__ = ["CHROMIUM", "chromium"]
