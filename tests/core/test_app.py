"""The app factory and a real `deskpilot serve` process in an empty directory."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from deskpilot.core.app import create_app
from deskpilot.core.config import Settings
from tests.conftest import free_port
from tests.core.test_plugins import install_fake_dist

REPO = Path(__file__).resolve().parents[2]


def test_healthz_and_readyz(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", connectors={})
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "index": "ok", "knowledge": "ok"}
        assert client.get("/openapi.json").status_code == 200


def test_readyz_waits_for_the_first_sync_of_each_enabled_connector(tmp_path):
    """An empty index is not ready: until each enabled connector has synced once, answers
    would come from nothing (a crashed or failed first sync included)."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "reset.md").write_text("# Reset your password\n\nClick reset.\n")
    settings = Settings(data_dir=tmp_path / "data", connectors={
        "kb": {"type": "local", "path": str(kb)},
        "broken": {"type": "local", "path": str(tmp_path / "absent")},
        "off": {"type": "local", "path": str(kb), "enabled": False},
    })
    with TestClient(create_app(settings)) as client:
        services = client.app.state.services
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["knowledge"] == (
            "first sync not finished: 'kb' not started; 'broken' not started")
        services.sync("kb")
        assert services.sync("broken").status == "failed"  # its folder does not exist
        ready = client.get("/readyz")
        assert ready.status_code == 503
        knowledge = ready.json()["checks"]["knowledge"]
        assert knowledge.startswith("first sync not finished: 'broken' failed: ")
        assert "'kb'" not in knowledge and "'off'" not in knowledge
        del settings.connectors["broken"]
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "index": "ok", "knowledge": "ok"}


def test_readyz_names_an_unreachable_database(tmp_path):
    # Nothing listens on port 1: the database check fails, the process stays alive.
    settings = Settings(
        data_dir=tmp_path / "data",
        connectors={},
        database={"url": "postgresql://nobody@127.0.0.1:1/none"},
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unreachable: OperationalError")


def wait_for(url: str, process: subprocess.Popen, seconds: float = 90,
             status: int | None = None) -> httpx.Response:
    """The first answer from `url` (with `status`: the first with that status)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            response = httpx.get(url, timeout=2)
            if status is None or response.status_code == status:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer{f' {status}' if status else ''} within {seconds}s")


@pytest.mark.slow
def test_serve_in_empty_directory_with_a_broken_plugin_installed(tmp_path):
    """`deskpilot serve` with no config at all: state under ./.deskpilot, health and readiness
    200, and a plugin that raises on import is listed with its error instead of stopping it."""
    plugins = tmp_path / "site"
    install_fake_dist(plugins, "deskpilot-broken", {"broken": "broken_plugin"},
                      {"broken_plugin": "raise ImportError('missing native lib')\n"})
    workdir = tmp_path / "empty"
    workdir.mkdir()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{plugins}{os.pathsep}{REPO}"}
    env.pop("DESKPILOT_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "deskpilot.core.cli", "serve", "--port", str(port)],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz", process).status_code == 200
        # Ready once the start-up sync of the demo help center has finished.
        ready = wait_for(f"http://127.0.0.1:{port}/readyz", process, 180, status=200)
        assert ready.json()["checks"]["knowledge"] == "ok"
        assert (workdir / ".deskpilot" / "deskpilot.db").is_file()
        listed = subprocess.run(
            [sys.executable, "-m", "deskpilot.core.cli", "plugins", "--json"],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=60,
        )
        rows = {row["name"]: row for row in json.loads(listed.stdout)}
        assert rows["broken"]["error"] == "ImportError: missing native lib"
    finally:
        process.terminate()
        # Shutdown lets the start-up sync finish its page of embeddings: ~35 s seen under load.
        output, _ = process.communicate(timeout=120)
    assert "Traceback" not in output, output


def test_plugin_routes_are_mounted_only_for_loaded_plugins(tmp_path):
    """The copilot's HTTP API arrives through `register_routes`: deny the plugin, and it is gone."""
    body = {"subject": "s", "description": "d"}
    enabled = Settings(data_dir=tmp_path / "a", connectors={})
    with TestClient(create_app(enabled)) as client:
        assert client.post("/v1/copilot/draft", json=body).status_code in (401, 403)
    denied = Settings(data_dir=tmp_path / "b", connectors={}, plugins={"deny": ["copilot"]})
    with TestClient(create_app(denied)) as client:
        assert client.post("/v1/copilot/draft", json=body).status_code == 404


def test_a_request_that_fails_validation_names_its_problem_in_one_line(tmp_path):
    # Was: FastAPI's 422 list alone ("msg": "Value error, give `text`, …"), without the
    # one-line `error` every other error of the API carries.
    settings = Settings(data_dir=tmp_path / "data", connectors={},
                        server={"admin_token": "t0ken"})
    admin = {"Authorization": "Bearer t0ken"}
    with TestClient(create_app(settings)) as client:
        too_many = client.get("/v1/search", params={"q": "refund", "k": 1000}, headers=admin)
        assert too_many.status_code == 422
        assert too_many.json()["error"] == "query.k: Input should be less than or equal to 50"
        assert too_many.json()["detail"][0]["loc"] == ["query", "k"]  # FastAPI's list stays
        empty = client.post("/v1/triage", json={}, headers=admin)
        assert empty.status_code == 422
        assert empty.json()["error"] == "body: give `text`, or `connector` and `ticket_id`"
        garbled = client.post("/v1/triage", content=b"zz", headers={
            **admin, "content-type": "application/json"})
        assert garbled.status_code == 422
        assert garbled.json()["error"].startswith("body: not valid JSON")
        typed = client.post("/v1/copilot/draft", json={"subject": 1, "description": []},
                            headers=admin)
        assert typed.json()["error"] == "body.subject: Input should be a valid string (and 1 more)"
