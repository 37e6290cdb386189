import os
import subprocess
import sys
from pathlib import Path

import pytest

from deskpilot.core.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]


def deskpilot(*args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "deskpilot.core.cli", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
    )


def test_example_config_validates():
    settings = load_settings(REPO / "config.example.toml")
    assert settings.server.port == 8000
    assert settings.connectors["demo"].type == "local"


def test_example_documents_every_setting():
    """Each top-level section and key of the settings model appears in the example file."""
    from deskpilot.core.config import Settings

    text = (REPO / "config.example.toml").read_text()
    for name, field in Settings.model_fields.items():
        if name == "connectors":
            continue
        section = field.annotation
        if hasattr(section, "model_fields"):
            assert f"[{name}]" in text, name
            for key in section.model_fields:
                assert f"{key} =" in text, f"{name}.{key} missing from config.example.toml"
        else:
            assert f"{name} =" in text, name


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nprot = 8000\n")
    with pytest.raises(ConfigError, match=r"bad.toml: server.prot: unknown setting"):
        load_settings(path)


def test_wrong_type_and_missing_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=r"c.toml: server.port"):
        load_settings(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "missing.toml")


def test_environment_overrides_file(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 8100\n")
    monkeypatch.setenv("DESKPILOT_SERVER__PORT", "9100")
    assert load_settings(path).server.port == 9100


def test_secrets_from_environment_are_redacted(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text(
        '[server]\nadmin_token = "env:MY_ADMIN"\n'
        '[connectors.hd]\ntype = "local"\napi_token = "env:MY_TOKEN"\n'
    )
    monkeypatch.setenv("MY_ADMIN", "admin-s3cret")
    monkeypatch.setenv("MY_TOKEN", "token-s3cret")
    settings = load_settings(path)
    assert settings.server.admin_token.get_secret_value() == "admin-s3cret"
    assert settings.connectors["hd"].options()["api_token"] == "token-s3cret"
    dumped = str(settings.redacted())
    assert "s3cret" not in dumped and "**********" in dumped


def test_unset_secret_reference_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = tmp_path / "c.toml"
    path.write_text('[server]\nadmin_token = "env:NOT_SET_ANYWHERE"\n')
    with pytest.raises(ConfigError, match="server.admin_token: .*NOT_SET_ANYWHERE"):
        load_settings(path)


def test_cli_config_check(tmp_path):
    ok = deskpilot("config", "check", "--config", str(REPO / "config.example.toml"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert '"port": 8000' in ok.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'blue'\n")
    result = deskpilot("config", "check", "--config", str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"error: {bad}: colour: unknown setting"]
    assert "Traceback" not in result.stderr


def test_cli_rejects_unknown_connector_type(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[connectors.x]\ntype = "nosuchdesk"\n')
    result = deskpilot("config", "check", "--config", str(path), cwd=tmp_path)
    assert result.returncode != 0
    assert "connectors.x.type: unknown connector type 'nosuchdesk'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_names_a_connectors_bad_option_in_one_plain_line(tmp_path):
    # Was: "connectors.x: Value error, set subdomain (or base_url) [type=value_error,
    # input_value={}, input_type=dict] For further information visit https://errors.pydantic…"
    path = tmp_path / "c.toml"
    path.write_text('[connectors.x]\ntype = "zendesk"\n')
    result = deskpilot("config", "check", "--config", str(path), cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: connectors.x: set subdomain (or base_url)"]
    path.write_text('[connectors.y]\ntype = "local"\npath = 3\n')
    result = deskpilot("config", "check", "--config", str(path), cwd=tmp_path)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}: connectors.y.path: Input is not a valid path"), line
    assert "pydantic.dev" not in line


def test_a_config_file_in_the_working_directory_is_named_when_it_is_not_read(tmp_path):
    # Was: a deskpilot.toml beside the operator was silently ignored (config comes from
    # --config or $DESKPILOT_CONFIG only), so `serve` ran on the embedded defaults.
    (tmp_path / "deskpilot.toml").write_text("[server]\nport = 9100\n")
    env = {k: v for k, v in os.environ.items() if k != "DESKPILOT_CONFIG"}
    result = deskpilot("config", "check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert '"port": 8000' in result.stdout  # still not read: only named
    assert result.stderr.strip().splitlines()[0] == (
        "note: ./deskpilot.toml is not read; pass --config deskpilot.toml "
        "(or set DESKPILOT_CONFIG) to use it")

    chosen = deskpilot("config", "check", "--config", "deskpilot.toml", cwd=tmp_path, env=env)
    assert '"port": 9100' in chosen.stdout and "note:" not in chosen.stderr
