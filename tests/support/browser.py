"""The browser tests' chromium and sign-in: the workbench's (``devtools.browser``), which the page's benchmark
drives too."""

from __future__ import annotations

from devtools.browser import CHROMIUM, chromium, sign_in, wait_for_view

__all__ = ["CHROMIUM", "chromium", "sign_in", "wait_for_view"]
