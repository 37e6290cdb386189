"""Denying a built-in takes all of it away — routes, commands, hooks, its automation step — and
leaves an app that starts and serves: built-ins are plugins like any other."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from deskpilot import TicketEvent
from deskpilot.core.app import create_app
from deskpilot.core.automation import run_automation
from deskpilot.core.cli import build_app
from tests.plugins.helpers import embedded_defaults


def _paths(app) -> set[str]:
    return set(app.openapi()["paths"])


def test_denying_triage_removes_its_routes_commands_hooks_and_step(tmp_path: Path) -> None:
    allowed = embedded_defaults(tmp_path / "allowed")
    assert "/v1/triage" in _paths(create_app(services=allowed))
    allowed_steps = [step.name for step in allowed.plugins.ticket_steps]
    assert "triage" in allowed_steps
    assert allowed.plugins.pm.hook.triage_text.get_hookimpls()
    allowed.close()

    services = embedded_defaults(tmp_path / "denied", plugins={"deny": ["triage"]})
    app = create_app(services=services)
    assert "/v1/triage" not in _paths(app)
    # Only triage's step is gone; the other plugins' steps stay.
    assert sorted(s.name for s in services.plugins.ticket_steps) == sorted(
        name for name in allowed_steps if name != "triage")
    assert "tags" in allowed_steps and "draft" in allowed_steps
    assert services.plugins.pm.get_plugin("triage") is None
    assert services.triage("my card was charged twice") is None  # no plugin answers
    assert "triage_ticket" not in services.plugins.tools

    # The app still starts and serves: health, a chat turn, the rest of the automation.
    with TestClient(app) as client:
        services.sync("demo")
        assert client.get("/readyz").status_code == 200
        turn = client.post("/chatkit", json={"type": "threads.create", "params": {"input": {
            "content": [{"type": "input_text", "text": "How do I reset my password?"}],
            "attachments": [], "inference_options": {}}}})
        assert turn.status_code == 200 and "thread.item.done" in turn.text
    result = run_automation(services, TicketEvent(connector="demo", ticket_id="1001",
                                                  subject="Refund", description="Refund me"))
    assert "triage" not in result and "draft" in result, result
    services.close()


def test_denying_triage_removes_its_command_and_tolerates_its_settings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "deskpilot.toml"
    config.write_text('[plugins]\ndeny = ["triage"]\n\n[automation]\ntriage_max_missed = 0.1\n')
    runner = CliRunner()
    with_triage = runner.invoke(build_app(), ["eval", "--help"])
    assert "triage" in with_triage.output
    argv = ["--config", str(config)]
    without = runner.invoke(build_app(argv), ["eval", "--help"])
    assert without.exit_code == 0 and "triage" not in without.output
    assert "retrieval" in without.output
    # The denied plugin's key is not an error (it is not loaded to say what it means).
    with caplog.at_level(logging.WARNING):
        checked = runner.invoke(build_app(argv), ["config", "check", *argv])
    assert checked.exit_code == 0, checked.output
    assert "automation.triage_max_missed: no loaded plugin uses this setting" in caplog.text
    assert "triage_max_missed" not in json.loads(checked.stdout)["automation"]


def test_a_key_no_plugin_declares_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "deskpilot.toml"
    config.write_text("[automation]\ntriage_max_misssed = 0.1\n")
    result = CliRunner().invoke(build_app(), ["config", "check", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}: automation.triage_max_misssed: unknown setting" in result.output
