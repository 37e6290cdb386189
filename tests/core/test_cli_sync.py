"""`deskpilot sync`, `sync status`, `search` end to end: real MiniLM, real index, demo data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deskpilot.core.cli import build_app

runner = CliRunner()
app = build_app()


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """CLI options for a data dir where the demo help center has been synced once."""
    root = tmp_path_factory.mktemp("cli")
    config = root / "deskpilot.toml"
    config.write_text('[connectors.demo]\ntype = "local"\n')
    options = ["--config", str(config), "--data-dir", str(root / "data")]
    result = runner.invoke(app, ["sync", *options])
    assert result.exit_code == 0, result.output
    assert "demo: succeeded" in result.output
    return options


@pytest.mark.slow
def test_a_demo_question_finds_the_right_article(synced: list[str]) -> None:
    result = runner.invoke(app, ["search", "I lost my phone and can't get my 2FA codes",
                                 "--k", "3", "--json", *synced])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert "account/lost-2fa-device" in [h["document_id"] for h in hits[:2]]
    assert all(h["audience"] == "public" for h in hits)
    refund = json.loads(runner.invoke(app, ["search", "how do I get my money back", "--json",
                                            *synced]).output)
    assert refund[0]["document_id"] == "billing/refund-policy"
    assert refund[0]["url"].endswith("/refund-policy")


@pytest.mark.slow
def test_internal_notes_need_audience_internal(synced: list[str]) -> None:
    query = ["search", "refund approved under exception policy R-2", "--k", "10", "--json"]
    public = json.loads(runner.invoke(app, [*query, *synced]).output)
    assert not any("R-2" in h["text"] for h in public)
    internal = json.loads(runner.invoke(app, [*query, "--audience", "internal", *synced]).output)
    assert any("R-2" in h["text"] and h["audience"] == "internal" for h in internal)


@pytest.mark.slow
def test_second_sync_changes_nothing_and_status_shows_both_runs(synced: list[str]) -> None:
    again = runner.invoke(app, ["sync", "--connector", "demo", *synced])
    assert again.exit_code == 0, again.output
    # Incremental: the source listed nothing (was "added 0, updated 0, deleted 0, unchanged 0,
    # failed 0", which read as if the run had looked at nothing).
    assert "demo: succeeded" in again.output
    assert "no document added, changed or deleted" in again.output
    result = runner.invoke(app, ["sync", "status", "--json", *synced])
    assert result.exit_code == 0, result.output
    typo = runner.invoke(app, ["sync", "status", "--connector", "dmeo", *synced])
    assert typo.exit_code == 2 and "no connector named 'dmeo' (configured: demo)" in typo.output
    status = json.loads(result.output)
    runs = status["runs"]["demo"]
    assert status["failed_documents"] == []
    assert runs[0]["status"] == runs[1]["status"] == "succeeded"
    assert runs[1]["added"] > 50 and runs[1]["failed"] == 0
    assert runs[1]["articles"]["indexed"] + runs[1]["tickets"]["indexed"] == runs[1]["added"]
    assert runs[0]["duration_seconds"] is not None
    text = runner.invoke(app, ["sync", "status", *synced])
    assert "demo" in text.output and "succeeded" in text.output


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    options = ["--data-dir", str(tmp_path / "data")]
    result = runner.invoke(app, ["sync", "--connector", "nope", *options])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "no enabled connector named 'nope'" in (
        result.output)
    assert "Traceback" not in result.output
    bad = runner.invoke(app, ["eval", "retrieval", "--articles", str(tmp_path / "a.jsonl"),
                              "--queries", str(tmp_path / "q.jsonl")])
    assert bad.exit_code == 2 and "file not found" in bad.output


def _zendesk_config(tmp_path: Path, url: str) -> Path:
    """A config with one Zendesk connector `zd` at `url` (a fake of its API)."""
    config = tmp_path / "deskpilot.toml"
    config.write_text(f'[connectors.zd]\ntype = "zendesk"\nbase_url = "{url}"\n'
                      'email = "bot@acme.example"\napi_token = "s3cret-t0ken"\n')
    return config


def test_a_helpdesk_error_is_one_line_naming_connector_url_and_what_to_do(tmp_path: Path
                                                                         ) -> None:
    """A real Zendesk-speaking server on loopback that lacks the ticket export (404): the run
    fails, and the CLI says so in one line, without a traceback or the token."""
    from tests.plugins.escalation.helpdesk_fakes import ZendeskDesk

    with ZendeskDesk().serve() as url:
        config = _zendesk_config(tmp_path, url)
        result = runner.invoke(app, ["sync", "--config", str(config),
                                     "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "s3cret-t0ken" not in result.output
    [line] = [x for x in result.output.splitlines() if x.startswith("zd: failed")]
    assert f"connector 'zd' (zendesk): GET {url}/api/v2/" in line, line
    assert "answered 404" in line and "check the connector's base URL" in line, line


def test_a_failed_sync_says_its_error_and_warnings_once(tmp_path: Path) -> None:
    """The real command in its own process (where the sync's log records reach stderr): the
    run's line says the error and each warning, and the log does not say them again."""
    from tests.plugins.escalation.helpdesk_fakes import ZendeskDesk

    with ZendeskDesk().serve() as url:
        config = _zendesk_config(tmp_path, url)
        done = subprocess.run(
            [sys.executable, "-m", "deskpilot.core.cli", "sync", "--config", str(config),
             "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert output.count("cursor.json?start_time=0 answered 404") == 1, output
    assert output.count("articles?start_time=0 answered 404") == 1, output
