"""Browser tests: Playwright drives Debian's Chromium against the real app over real HTTP.

Fixtures
--------
``live_server``  the app from ``create_app({"TESTING": True}, ctx=ctx)`` served by a werkzeug server
                 (threaded) on a free 127.0.0.1 port, in a background thread of the test process;
                 yields the base URL (``http://127.0.0.1:PORT``, no trailing slash). It is built on
                 ``ctx`` from tests/conftest.py, so it runs once per database backend, and the test
                 and the server share one ServiceContext: what the test does through the services
                 (issue a seal, publish CRLs) the browser sees at once, and so does the clock.
``browser``      one headless Chromium for this package's tests (package scope, not session: see
                 the fixture for why).
``page``         a fresh browser context per test (locale zh-CN, viewport 1280x900, no cache shared
                 between tests). It records console messages of type ``error`` and uncaught page
                 errors: any not declared with ``expect_console_error`` fail the test (checked right
                 after the test body, so it is reported as FAILED, and again at teardown). At
                 teardown it always saves a full-page screenshot, also when the test failed, to
                 ``test-artifacts/screenshots/<test id>.png``; ``shot(page, name)`` (tests/browser/
                 support.py) saves named ones mid-test.

Why an in-process server and not ``registry serve`` in a subprocess: the ``ctx`` fixture freezes the
clock (FrozenClock at tests.support.data.NOW) and a test can only move a clock it holds. With the server in
the same process the browser flow sees the same frozen time as the services the test calls, so
anything computed from ``ctx.clock`` agrees (TOTP codes, CRL thisUpdate/nextUpdate, "checked at",
idle time-outs kept in the session) and a test can ``ctx.clock.advance(...)`` to expire something on
purpose instead of sleeping. What the frozen clock does NOT govern: Chromium's own time. Flask's
cookie ``Expires`` for a permanent session is computed from the real time, so cookies live normally;
a cookie or cache header whose date were computed from ``ctx.clock`` would be in the past for the
browser (NOW is a fixed date, earlier than today), and the browser would drop it at once — compute
such dates from real time, or give them as Max-Age. HTTP caching is per context, so no test sees
another's cached page.

Chromium is Debian's ``/usr/bin/chromium`` (``REGISTRY_TEST_CHROMIUM`` overrides), installed by
scripts/test.sh through scripts/install-system-deps.sh; Playwright is in the ``test`` extra. When
either is missing the browser tests are skipped, announced loudly (a warning and a red banner in the
summary) — except in CI (``CI`` set), where they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from registry.services.context import FrozenClock, ServiceContext
from registry.web import create_app
from tests.support.regions import Region, region, second_database

from .support import _STATE_ATTR, SCREENSHOTS, PageState, artifact_name

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("REGISTRY_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Console errors that are not the app's fault and never fail a test. Keep this list short, and say why.
KNOWN_NOISE: list[re.Pattern[str]] = []  # (the pages declare an empty icon, so no /favicon.ico 404)


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package `playwright` is not installed (it is in the `test` extra)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not installed at {CHROMIUM} (Debian package `chromium`)"
    return None


PROBLEM = _browser_problem()
_skipped: list[str] = []
_SKIP_MARK = "BROWSER TESTS SKIPPED"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _skipped:
        return
    tr = terminalreporter
    count = sum(1 for r in tr.stats.get("skipped", []) if _SKIP_MARK in str(getattr(r, "longrepr", "")))
    tr.section("BROWSER TESTS SKIPPED", sep="!", red=True, bold=True)
    tr.line(f"{count or len(_skipped)} BROWSER TESTS WERE SKIPPED: {PROBLEM}.", red=True, bold=True)
    tr.line(
        "Run scripts/test.sh (it installs Chromium and Playwright). In CI (CI set) this is a failure, not a skip.",
        red=True,
        bold=True,
    )


# ------------------------------------------------------------------------------------------------
# Server


@pytest.fixture
def live_server(ctx: ServiceContext) -> Iterator[str]:
    """The real app over real HTTP on a free loopback port; yields ``http://127.0.0.1:PORT``."""
    app = create_app({"TESTING": True}, ctx=ctx)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live_server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# ------------------------------------------------------------------------------------------------
# Browser


@pytest.fixture(scope="package")
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One headless Chromium for the tests of this package, stopped after them: while Playwright's
    sync API is started, its asyncio loop counts as running in the main thread, and any other test
    calling ``asyncio.run`` (pyhanko-certvalidator does) would fail with "cannot be called from a
    running event loop". The same holds inside a browser test: don't call asyncio.run there (the
    server's request threads are not affected)."""
    if PROBLEM is not None:
        message = f"browser tests cannot run: {PROBLEM}. scripts/test.sh installs what they need."
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {message}", pytrace=False)
        _skipped.append(request.node.nodeid)
        warnings.warn(pytest.PytestWarning(f"{_SKIP_MARK}: {message}"), stacklevel=1)
        pytest.skip(f"{_SKIP_MARK}: {message}")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception:
        pw.stop()
        raise
    yield chromium
    chromium.close()
    pw.stop()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    if "live_server" in request.fixturenames:
        # set the server up first so it is torn down after the page (the final screenshot may load)
        request.getfixturevalue("live_server")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    st = PageState(test_id=artifact_name(request.node.nodeid))
    setattr(pg, _STATE_ATTR, st)

    def record(text: str) -> None:
        if any(rx.search(text) for rx in KNOWN_NOISE):
            return
        (st.allowed if any(rx.search(text) for rx in st.expected) else st.errors).append(text)

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            url = (msg.location or {}).get("url") or ""
            record(f"console error: {msg.text} @ {url}")

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: record(f"page error: {exc}"))
    try:
        yield pg
    finally:
        try:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            path = SCREENSHOTS / f"{st.test_id}.png"
            if pg.url != "about:blank":
                pg.screenshot(path=str(path), full_page=True)
                st.shots.append(path)
        finally:
            context.close()
    if st.shots:
        request.node.add_report_section(
            "teardown", "screenshots", "\n".join(str(p.relative_to(SCREENSHOTS.parents[1])) for p in st.shots)
        )
    _fail_on_errors(st, "at teardown")


def _fail_on_errors(st: PageState, when: str) -> None:
    if st.errors:
        errors, st.errors[:] = list(st.errors), []
        pytest.fail(f"the browser reported {len(errors)} error(s) {when}:\n  " + "\n  ".join(errors), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield  # the test body; if it raised, that failure is reported and we stop here
    pg = getattr(item, "funcargs", {}).get("page")
    st = getattr(pg, _STATE_ATTR, None) if pg is not None else None
    if st is not None:
        try:
            pg.evaluate("0")  # a round trip, so console events still in flight are delivered
        except Exception:  # noqa: BLE001 - a closed page has nothing more to say
            pass
        _fail_on_errors(st, "during the test")
    return result


@pytest.fixture
def beijing(request: pytest.FixtureRequest, ctx: ServiceContext, database_url: str, tmp_path: Path) -> Iterator[Region]:
    """A second registry (Beijing, 110000) served over loopback on ``ctx``'s clock, with the demo
    licences and two staff (tests/support/regions.py): for the mutual-recognition pages."""
    gen = second_database(
        database_url,
        tmp_path,
        lambda: request.getfixturevalue("sqlite_template"),
        lambda: request.getfixturevalue("pg_template"),
    )
    assert isinstance(ctx.clock, FrozenClock)
    with region(tmp_path, next(gen), ctx.clock, enterprises=True) as bj:
        yield bj
    next(gen, None)
