"""A third-party plugin's own configuration: the table [plugins.NAME], validated against the
options model it registers, through the real command line and a real installed distribution."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_plugins import REPO, install_fake_dist

ORDERSTATUS = """
    import deskpilot
    from pydantic import SecretStr

    class OrderSettings(deskpilot.Options):
        api_url: str
        api_key: SecretStr
        timeout_seconds: float = 5.0

    @deskpilot.hookimpl
    def register_settings(register):
        register(OrderSettings)
"""


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    install_fake_dist(root, "deskpilot-orderstatus", {"orderstatus": "orderstatus_plugin"},
                      {"orderstatus_plugin": ORDERSTATUS})
    return root


def _config_check(plugin_path: Path, tmp_path: Path, table: str, **env: str):
    config = tmp_path / "deskpilot.toml"
    config.write_text(f'data_dir = "data"\n\n[plugins.orderstatus]\n{table}\n')
    environ = {**os.environ, "PYTHONPATH": f"{plugin_path}{os.pathsep}{REPO}", **env}
    environ.pop("ORDERS_KEY", None) if "ORDERS_KEY" not in env else None
    result = subprocess.run([sys.executable, "-m", "deskpilot.core.cli", "config", "check",
                             "--config", str(config)], capture_output=True, text=True,
                            env=environ, cwd=tmp_path, timeout=120)
    return config, result


def test_valid_table_is_printed_with_the_secret_redacted(plugin_path, tmp_path):
    _, result = _config_check(plugin_path, tmp_path,
                              'api_url = "https://orders.test"\napi_key = "env:ORDERS_KEY"',
                              ORDERS_KEY="sk-orders-123")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)["plugins"]["orderstatus"]
    assert table == {"api_url": "https://orders.test", "api_key": "**********",
                     "timeout_seconds": 5.0}
    assert "sk-orders-123" not in result.stdout + result.stderr


def test_the_plugin_reads_its_validated_settings(plugin_path, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_path))
    monkeypatch.setenv("ORDERS_KEY", "sk-orders-123")
    config = tmp_path / "deskpilot.toml"
    config.write_text('[plugins.orderstatus]\napi_url = "https://orders.test"\n'
                      'api_key = "env:ORDERS_KEY"\ntimeout_seconds = 2\n')
    import orderstatus_plugin

    from deskpilot.core.config import load_settings
    from deskpilot.core.services import Services

    services = Services(load_settings(config, data_dir=tmp_path / "data"))
    options = services.settings_for(orderstatus_plugin.OrderSettings)
    assert options.api_key.get_secret_value() == "sk-orders-123"
    assert options.timeout_seconds == 2.0


@pytest.mark.parametrize(("table", "message"), [
    ('api_url = "u"\napi_key = "k"\napi_urll = "typo"',
     "plugins.orderstatus.api_urll: unknown setting"),
    ('api_url = "u"\napi_key = "k"\ntimeout_seconds = "soon"',
     "plugins.orderstatus.timeout_seconds: Input should be a valid number"),
    ('api_key = "k"', "plugins.orderstatus.api_url: required setting is missing"),
    ('api_url = "u"\napi_key = "env:ORDERS_KEY"',
     "plugins.orderstatus.api_key: refers to environment variable ORDERS_KEY, "
     "which is not set"),
])
def test_a_wrong_table_fails_naming_the_file_and_the_key(plugin_path, tmp_path, table, message):
    config, result = _config_check(plugin_path, tmp_path, table)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"{config}: {message}" in result.stderr, result.stderr
