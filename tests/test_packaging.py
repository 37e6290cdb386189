"""The distribution: one top-level package, `deskpilot`, with everything the tree holds, and an
installed wheel that works in a fresh virtualenv."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

FOLDERS = {"deskpilot": "deskpilot", "core": "deskpilot/core", "knowledge": "deskpilot/knowledge",
           "plugins": "deskpilot/plugins", "connectors": "deskpilot/connectors"}
BUILT_INS = {"copilot", "embedders", "escalation", "intercom", "knowledge_search", "local",
             "snippets", "tagging", "triage", "zendesk"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: an in-tree setuptools build would leave build/ and *.egg-info behind.
    source = tmp_path_factory.mktemp("src") / "deskpilot"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".deskpilot", "__pycache__", "*.egg-info", "build", "dist", "tests",
        "examples", "bench", "docs", ".ci"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(out), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    [built] = out.glob("deskpilot-*.whl")
    return built


def test_the_wheel_has_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"deskpilot", "deskpilot-0.1.0.dist-info"}, top


def test_the_wheel_holds_every_module_and_data_file_of_the_tree(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{inside}/{path.relative_to(REPO / folder).as_posix()}"
                for folder, inside in FOLDERS.items()
                for path in (REPO / folder).rglob("*")
                if path.is_file() and "__pycache__" not in path.parts}
    assert expected <= names, sorted(expected - names)[:10]


def _fresh_venv(root: Path) -> Path:
    """A new virtualenv whose dependencies come from this one (nothing downloaded), and which
    has no Deskpilot of its own yet."""
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    deps = root / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(("deskpilot", "__editable__")):
            (deps / entry.name).symlink_to(entry)
    [site] = (root / "lib").glob("python3*/site-packages")
    (site / "dependencies.pth").write_text(f"{deps}\n")
    return root / "bin" / "python"


def test_the_installed_wheel_lists_the_built_in_plugins(wheel: Path, tmp_path: Path) -> None:
    python = _fresh_venv(tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, text=True, timeout=300)
    result = subprocess.run([str(python.with_name("deskpilot")), "plugins", "--json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == BUILT_INS
    assert {row["status"] for row in rows.values()} == {"loaded"}
    assert all(row["module"].startswith("deskpilot.") for row in rows.values())
    where = subprocess.run(
        [str(python), "-c", "import deskpilot.core; print(deskpilot.core.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert str(tmp_path / "venv") in where.stdout, where.stdout + where.stderr
