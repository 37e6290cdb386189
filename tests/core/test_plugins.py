"""Plugin isolation, through real entry points: a fake distribution on sys.path."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import deskpilot
from deskpilot.core.config import PluginSettings
from deskpilot.core.plugins import PluginHost, load_plugins

REPO = Path(__file__).resolve().parents[2]
BUILTINS = {"local", "embedders"}


def install_fake_dist(root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]):
    """A real installed distribution as importlib.metadata sees one: a dist-info with
    entry_points.txt, plus its modules, under a directory put on sys.path."""
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[deskpilot]\n{lines}\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    install_fake_dist(
        tmp_path,
        "deskpilot-broken",
        {"broken": "broken_plugin"},
        {"broken_plugin": "raise RuntimeError('boom at import')\n"},
    )
    install_fake_dist(
        tmp_path,
        "deskpilot-extras",
        {"extras": "extras_plugin", "halfway": "halfway_plugin"},
        {
            "extras_plugin": """
                import deskpilot

                class EchoEmbedder(deskpilot.Embedder):
                    name = "echo"
                    dimension = 2
                    def embed_documents(self, texts):
                        return [[1.0, 0.0] for _ in texts]

                @deskpilot.hookimpl
                def register_embedders(register):
                    register(EchoEmbedder)

                CALLS = []

                @deskpilot.hookimpl
                def sync_finished(event):
                    CALLS.append((event.connector, event.report))
            """,
            "halfway_plugin": """
                import deskpilot

                class Half(deskpilot.Embedder):
                    name = "half"
                    dimension = 1
                    def embed_documents(self, texts):
                        return [[1.0] for _ in texts]

                @deskpilot.hookimpl
                def register_embedders(register):
                    register(Half)
                    raise ValueError("registration went wrong")

                @deskpilot.hookimpl
                def sync_finished(event):
                    raise RuntimeError("event handler crashed")
            """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtins_are_entry_points():
    host = load_plugins()
    names = {info["name"] for info in host.describe()}
    assert names >= BUILTINS
    for info in host.describe():
        if info["name"] in BUILTINS:
            assert info["distribution"] == "deskpilot"


def test_import_failure_is_recorded_and_skipped(fake_plugins):
    host = load_plugins()
    infos = {info["name"]: info for info in host.describe()}
    assert infos["broken"]["status"] == "failed"
    assert infos["broken"]["error"] == "RuntimeError: boom at import"
    assert infos["broken"]["version"] == "1.2.3"
    assert infos["extras"]["status"] == "loaded"
    assert infos["extras"]["hooks"] == ["register_embedders", "sync_finished"]
    assert "echo" in host.embedders


def test_registration_failure_registers_nothing_of_that_plugin(fake_plugins):
    host = load_plugins()
    info = {i["name"]: i for i in host.describe()}["halfway"]
    assert info["status"] == "failed"
    assert "registration went wrong" in info["error"]
    assert "half" not in host.embedders
    assert "echo" in host.embedders


def test_event_hook_failure_does_not_stop_others(fake_plugins):
    import extras_plugin
    import halfway_plugin

    host = PluginHost()
    host.register(halfway_plugin, "halfway")
    host.register(extras_plugin, "extras")
    extras_plugin.CALLS.clear()
    host.emit(deskpilot.SyncFinished(connector="demo", report={"added": 1}), platform=None)
    assert extras_plugin.CALLS == [("demo", {"added": 1})]
    assert "event handler crashed" in host.infos["halfway"].error


def test_allow_and_deny_lists(fake_plugins):
    denied = load_plugins(PluginSettings(deny=["extras"]))
    assert {i["name"]: i["status"] for i in denied.describe()}["extras"] == "denied"
    assert "echo" not in denied.embedders

    allowed = load_plugins(PluginSettings(allow=["extras"]))
    statuses = {i["name"]: i["status"] for i in allowed.describe()}
    assert statuses["extras"] == "loaded"
    assert statuses["local"] == "denied"


def test_facade_exports_what_plugins_need():
    for name in ("hookimpl", "Connector", "Embedder", "AgentTool", "Article", "Ticket", "SyncPage"):
        assert hasattr(deskpilot, name)


def test_cli_plugins_json_lists_broken_plugin(fake_plugins, tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{fake_plugins}{os.pathsep}{REPO}"}
    result = subprocess.run(
        [sys.executable, "-m", "deskpilot.core.cli", "plugins", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) >= BUILTINS
    assert rows["broken"]["error"] == "RuntimeError: boom at import"
