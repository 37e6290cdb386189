"""Chat fixtures: an app on a temp SQLite database whose agent is the scripted stand-in, and a
real `deskpilot serve` for the browser and load-benchmark tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from deskpilot.core.app import create_app
from deskpilot.core.chat.runtime import build_chat
from deskpilot.core.config import ChatSettings, DatabaseSettings, Settings
from deskpilot.core.services import Services
from tests.conftest import free_port

from .protocol import ChatClient
from .scripted import ScriptedAgent

SECRET = "host-site-shared-secret"

MakeApp = Callable[..., tuple[FastAPI, ScriptedAgent]]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """Build an app over `data_dir` (default: this test's temp dir) with chat settings; its
    database is `database_url` if given, else SQLite in `data_dir`."""
    opened: list[Services] = []

    def make(data_dir: Path | None = None, database_url: str | None = None, **chat: Any
             ) -> tuple[FastAPI, ScriptedAgent]:
        settings = Settings(data_dir=data_dir or tmp_path, chat=ChatSettings(**chat),
                            connectors={}, database=DatabaseSettings(url=database_url))
        services = Services(settings)
        services.migrate()  # what the app's lifespan does; TestClient here runs without it
        opened.append(services)
        app = create_app(services=services)
        agent = ScriptedAgent()
        app.state.chat = build_chat(services, agent.build)
        return app, agent

    yield make
    for services in opened:
        services.engine.dispose()


@pytest.fixture
def app(make_app: MakeApp) -> FastAPI:
    return make_app(identity_secret=SECRET)[0]


@pytest.fixture
def client(app: FastAPI) -> ChatClient:
    return ChatClient(app)


ADMIN_TOKEN = "browser-test-token"
# The first sync of the demo help center embeds every article on CPU.
SYNC_TIMEOUT = 300
START_TIMEOUT = 240



def _wait_for_demo_knowledge(base: str) -> None:
    """Until the startup sync of the demo connector has succeeded (serve runs it when empty)."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    while time.monotonic() < deadline:
        try:
            runs = httpx.get(f"{base}/v1/sync", params={"connector": "demo"}, headers=headers,
                             timeout=5).json().get("demo", [])
        except (httpx.HTTPError, ValueError):
            runs = []
        if runs and runs[0]["status"] == "succeeded":
            return
        if runs and runs[0]["status"] == "failed":
            pytest.fail(f"demo sync failed: {runs[0]['error']}")
        time.sleep(1)
    pytest.fail(f"demo knowledge not indexed within {SYNC_TIMEOUT}s")


@contextmanager
def serving(data_dir: Path, env: dict[str, str], *options: str) -> Iterator[str]:
    """A real `deskpilot serve` (with `options`) on a free loopback port, once its startup sync
    has indexed the demo help center; its base URL. Stopped on exit."""
    port = free_port()
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "deskpilot.core.cli", "serve", *options, "--host", "127.0.0.1",
         "--port", str(port), "--data-dir", str(data_dir)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Start-up loads the embedding model and warms the index: 88 s was seen on a shared
        # machine under load.
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited: {(data_dir / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not start within {START_TIMEOUT}s: "
                            f"{(data_dir / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.2)
        _wait_for_demo_knowledge(base)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `deskpilot serve` on the embedded defaults (offline model, demo knowledge), once
    its startup sync has indexed the demo help center."""
    env = {**os.environ, "DESKPILOT_SERVER__ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("DESKPILOT_CONFIG", None)  # the embedded defaults: offline model, demo connector
    with serving(tmp_path_factory.mktemp("serve"), env) as base:
        yield base


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; skipped when it is not installed (a failure on CI,
    whose scripts/test installs it)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):  # CI installs it (scripts/test): a skip there would hide a gap
            pytest.fail(f"{CHROMIUM} is missing on CI")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Per module, not per session: Playwright's sync API runs an event loop on this thread while it
# is open, and later tests that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched
