"""The import contracts of pyproject.toml hold, and would catch a wrong import (the layers of
../shared/DESIGN.md: plugins and connectors use only the facade, the platform never imports a
plugin, no cycles)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "lint-imports"
PACKAGE_FOLDERS = ("deskpilot", "core", "knowledge", "plugins", "connectors")


def lint(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--repo", str(repo)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The package's folders and pyproject.toml, to break on purpose."""
    for folder in PACKAGE_FOLDERS:
        shutil.copytree(REPO / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "demo-help-center"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_contracts_hold() -> None:
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def add_line(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


@pytest.mark.parametrize(("where", "line", "broken"), [
    # The platform importing a built-in plugin: the layers contract.
    ("core/app.py", "import deskpilot.plugins.triage", "Layers: plugins and connectors"),
    # A built-in plugin reaching past the facade into the platform.
    ("plugins/tagging.py", "from deskpilot.core.services import Services",
     "Built-in plugins and connectors use only the facade"),
    # The engine using the facade built on it.
    ("knowledge/text.py", "import deskpilot", "do not use the facade built on them"),
    # Two modules of one package importing each other.
    ("core/tables.py", "import deskpilot.core.store", "No import cycles"),
])
def test_a_wrong_import_breaks_a_contract(copy: Path, where: str, line: str,
                                          broken: str) -> None:
    add_line(copy / where, line)
    result = lint(copy)
    assert result.returncode != 0, result.stdout
    section = result.stdout.split("Broken contracts", 1)[1]
    assert broken in section, section
