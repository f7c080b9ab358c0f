"""Helpers for the browser tests: artifact paths, named screenshots, expected console errors.

Screenshots go to ``test-artifacts/screenshots/`` at the repository root (kept by CI as test
artifacts, ignored by git): ``<test id>.png`` is the full page at the end of every test (also when it
failed), ``<test id>--<name>.png`` is a named shot taken mid-test with :func:`shot`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # re-exported for the tests, so a missing Playwright skips (or fails in CI) through the
    # `browser` fixture instead of breaking collection
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - see conftest._browser_problem
    expect = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

# Every browser-test page is tied to its test through this key (see conftest.page).
_STATE_ATTR = "_registry_browser_state"
_SAFE = re.compile(r"[^\w.-]+")


def artifact_name(nodeid: str) -> str:
    """``tests/browser/test_x.py::test_y[sqlite]`` -> ``test_x.py--test_y[sqlite]`` (file-name safe)."""
    name = nodeid.split("tests/browser/", 1)[-1].replace("::", "--")
    return re.sub(r"[^\w.\[\]@=+-]+", "_", name)[:200]


@dataclass
class PageState:
    test_id: str
    errors: list[str] = field(default_factory=list)  # unexpected console errors / page errors
    expected: list[re.Pattern[str]] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)  # errors that matched an expectation
    shots: list[Path] = field(default_factory=list)


def state(page: Any) -> PageState:
    st = getattr(page, _STATE_ATTR, None)
    if st is None:
        raise RuntimeError("this page was not made by the `page` fixture of tests/browser/conftest.py")
    return st  # type: ignore[no-any-return]


def shot(page: Any, name: str, element: Any = None) -> Path:
    """Save a screenshot named ``<test id>--<name>.png`` now: the full page, or only ``element`` (a
    Playwright locator) when given. Returns its path."""
    st = state(page)
    path = SCREENSHOTS / f"{st.test_id}--{_SAFE.sub('_', name)}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if element is not None:
        element.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    st.shots.append(path)
    return path


def expect_console_error(page: Any, pattern: str) -> None:
    """Declare a console error this test provokes on purpose (e.g. Chromium's
    ``Failed to load resource: ... status of 400`` for a page served with status 400). ``pattern``
    is a regular expression searched in ``"<message> @ <url>"``; any other error still fails."""
    st = state(page)
    rx = re.compile(pattern)
    st.expected.append(rx)
    # an error that already arrived (the usual case: declared right after the request) is forgiven
    for err in list(st.errors):
        if rx.search(err):
            st.errors.remove(err)
            st.allowed.append(err)
