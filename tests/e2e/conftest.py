"""Fixtures for the end-to-end browser tests.

One real server per xdist worker: a fresh, migrated SQLite database with the demo organisation
and one e2e user per staff role, served by uvicorn on a free local port from a background thread.
Pages are driven by Debian's chromium (never a downloaded browser) through Playwright's sync API.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy import Engine

from townhall.app import create_app, load_service_demos
from townhall.core import auth
from townhall.core.db import transaction
from townhall.core.demo import load_demo
from townhall.core.migrate import upgrade
from townhall.core.permissions import Role

from .e2e_support import (
    AXE_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DISPLAY_NAMES,
    NAV_TIMEOUT_MS,
    PASSWORD,
    ROLES,
    ContextFactory,
    LiveServer,
    PageFactory,
    e2e_settings,
    sign_in,
)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait_until_healthy(base_url: str, thread: threading.Thread, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the e2e server thread stopped before it answered /healthz")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last_error = exc
        time.sleep(0.05)
    raise RuntimeError(f"the e2e server did not answer /healthz within {timeout}s: {last_error}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database = tmp_path_factory.mktemp("e2e-db") / "townhall.db"
    database_url = f"sqlite:///{database}"
    upgrade(database_url)
    settings = e2e_settings(database_url)
    app = create_app(settings)
    engine: Engine = app.state.engine
    hasher = app.state.password_hasher

    with transaction(engine) as session:
        demo = load_demo(session, hasher)
        load_service_demos(session, settings)
        logins: dict[str, tuple[str, str]] = {}
        for role, (username, team_slug) in ROLES.items():
            teams = [auth.team_by_slug(session, team_slug)] if team_slug else []
            auth.create_user(
                session,
                username=username,
                password=PASSWORD,
                role=Role(role),
                display_name=DISPLAY_NAMES[role],
                teams=teams,
                hasher=hasher,
            )
            logins[role] = (username, PASSWORD)

    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True
    )
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base_url, thread)
        yield LiveServer(
            base_url=base_url,
            engine=engine,
            demo_logins={d.username: d.password for d in demo},
            logins=logins,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. "
            "Install it with `make browser` (apt-get install chromium); "
            "the suite never downloads a browser.",
            pytrace=False,
        )
    # launch() gives every run a fresh, throwaway profile (user data dir).
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def axe_source() -> Path:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` (see `make assets`).", pytrace=False)
    return AXE_JS


@pytest.fixture(scope="session")
def role_states(browser: Browser, live_server: LiveServer) -> Callable[[str], Any]:
    """The storage state (session cookie) of each role, made once by signing in with the form."""
    states: dict[str, Any] = {}

    def _state(role: str) -> Any:
        if role not in states:
            context = browser.new_context()
            page = context.new_page()
            sign_in(page, live_server, *live_server.logins[role])
            assert page.url == live_server.url("/staff"), (
                f"signing in as {role} did not reach the staff home: {page.url}"
            )
            states[role] = context.storage_state()
            context.close()
        return states[role]

    return _state


def _context(browser: Browser, state: Any, *, javascript: bool, bypass_csp: bool) -> BrowserContext:
    context = browser.new_context(
        java_script_enabled=javascript, bypass_csp=bypass_csp, storage_state=state
    )
    context.set_default_timeout(NAV_TIMEOUT_MS)
    return context


@pytest.fixture
def new_context(browser: Browser, role_states: Callable[[str], Any]) -> Iterator[ContextFactory]:
    """An isolated browser context of the test's own (anonymous, or signed in as a role).

    Use it when the test changes the browser's session: signing in or out.
    """
    contexts: list[BrowserContext] = []

    def _make(
        role: str | None = None, *, javascript: bool = True, bypass_csp: bool = False
    ) -> BrowserContext:
        state = role_states(role) if role is not None else None
        context = _context(browser, state, javascript=javascript, bypass_csp=bypass_csp)
        contexts.append(context)
        return context

    yield _make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def open_page(browser: Browser, role_states: Callable[[str], Any]) -> Iterator[PageFactory]:
    """A page (tab) shared by every test that asks for the same role and CSP setting.

    A new tab costs a new renderer process, several times the cost of a navigation, so tests that
    only navigate (and never sign in or out) share one. Each such test starts with page.goto.
    """
    pages: dict[tuple[str | None, bool], Page] = {}

    def _open(role: str | None = None, *, bypass_csp: bool = False) -> Page:
        key = (role, bypass_csp)
        if key not in pages or pages[key].is_closed():
            state = role_states(role) if role is not None else None
            context = _context(browser, state, javascript=True, bypass_csp=bypass_csp)
            pages[key] = context.new_page()
        return pages[key]

    yield _open
    for page in pages.values():
        page.context.close()


@pytest.fixture
def page(new_context: ContextFactory) -> Page:
    """An anonymous page with JavaScript on, in a context of its own."""
    return new_context().new_page()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail loudly, before any browser starts, if a test here forgot the browser marks."""
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().parent != here:
            continue
        marks = {mark.name for mark in item.iter_markers()}
        missing = {"browser", "xdist_group"} - marks
        if missing:
            raise pytest.UsageError(f"{item.nodeid} lacks the marks: {', '.join(sorted(missing))}")
