"""The example third-party plugin installs as a package, is found by Deskpilot's plugin loader
through its entry point, and passes the contract kit.

It is installed into a temporary directory (not the shared venv) and exercised in subprocesses
that put that directory on the path, exactly as a `pip install` would.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "deskpilot-freshdesk"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: an in-tree setuptools build would leave build/ and *.egg-info behind.
    source = tmp_path_factory.mktemp("src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True,
    )
    return target


def run(site: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_plugin_loader_lists_freshdesk(site: Path) -> None:
    result = run(site, "-c", (
        "import json; from deskpilot.core.plugins import load_plugins; host = load_plugins(); "
        "print(json.dumps({'plugins': host.describe(), 'connectors': sorted(host.connectors)}))"
    ))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    freshdesk = next(p for p in found["plugins"] if p["name"] == "freshdesk")
    assert freshdesk["status"] == "loaded", freshdesk
    assert freshdesk["distribution"] == "deskpilot-freshdesk"
    assert freshdesk["hooks"] == ["register_connectors"]
    assert "freshdesk" in found["connectors"]


def test_plugin_imports_only_the_public_api() -> None:
    for source in (EXAMPLE / "deskpilot_freshdesk").glob("*.py"):
        text = source.read_text()
        assert "from core" not in text and "import core" not in text, source


def test_example_passes_its_own_kit_tests(site: Path) -> None:
    kit_registered = any(ep.value == "deskpilot.testkit"
                         for ep in importlib.metadata.entry_points(group="pytest11"))
    args = [] if kit_registered else ["-p", "deskpilot.testkit"]
    result = run(site, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, cwd=EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout
