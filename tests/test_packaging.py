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


def _source_copy(root: Path) -> Path:
    # Built from a copy: an in-tree setuptools build would leave build/ and *.egg-info behind.
    source = root / "deskpilot"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".deskpilot", "__pycache__", "*.egg-info", "build", "dist", "tests",
        "examples", "bench", "docs", ".ci"))
    return source


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = _source_copy(tmp_path_factory.mktemp("src"))
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


def test_the_editable_install_declares_every_folder_it_ships(tmp_path: Path) -> None:
    # scripts/setup's install: setuptools warns, ~40 lines per folder, about a data folder
    # whose name could be imported but is not a declared package.
    source = _source_copy(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(tmp_path / "target"), "-e", str(source)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "absent from the `packages` configuration" not in result.stderr, result.stderr[:2000]


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


# -- developing a plugin against the built wheel (docs/writing-a-plugin.md, "Install Deskpilot
# for plugin development"): no package index, pip resolves `deskpilot>=0.1` from the wheel.
@pytest.fixture(scope="module")
def dev_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = _fresh_venv(tmp_path_factory.mktemp("dev") / "venv")
    # The setuptools `venv` bundles predates PEP 639 licences; builds use the one of the
    # dependencies (what `pip install --upgrade setuptools` would give, without an index).
    subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "setuptools"],
                   check=True, capture_output=True, text=True, timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, text=True, timeout=300)
    return python


def _install_with_dependencies(python: Path, wheel: Path, package: Path) -> None:
    """`pip install PACKAGE[test]` resolving its dependencies, deskpilot included, without an
    index: from the wheel's folder and what the virtualenv already has."""
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation",
         "--find-links", str(wheel.parent), f"{package}[test]"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _pytest(python: Path, package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=package, capture_output=True, text=True, timeout=300)


def test_the_example_installs_with_its_deskpilot_dependency(
        dev_venv: Path, wheel: Path, tmp_path: Path) -> None:
    example = tmp_path / "deskpilot-freshdesk"
    shutil.copytree(REPO / "examples" / "deskpilot-freshdesk", example,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    _install_with_dependencies(dev_venv, wheel, example)
    result = _pytest(dev_venv, example)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.mark.parametrize(("kind", "registered"), [
    ("connector", {"connectors": ["orders"]}),
    ("tool", {"tools": [{"name": "orders", "audience": "customer"}],
              "settings": ["plugins.orders"]}),
    ("hooks", {"settings": ["plugins.orders"]}),
])
def test_a_new_plugin_package_passes_its_own_tests_in_a_fresh_virtualenv(
        dev_venv: Path, wheel: Path, tmp_path: Path, kind: str, registered: dict) -> None:
    deskpilot = str(dev_venv.with_name("deskpilot"))
    made = subprocess.run([deskpilot, "plugin", "new", "orders", "--kind", kind, "--dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    package = tmp_path / "deskpilot-orders"
    assert {"pyproject.toml", "README.md"} <= {p.name for p in package.iterdir()}
    assert "[project.entry-points.deskpilot]" in (package / "pyproject.toml").read_text()
    assert "pip install -e /path/to/deskpilot" in (package / "README.md").read_text()
    _install_with_dependencies(dev_venv, wheel, package)
    tests = _pytest(dev_venv, package)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "passed" in tests.stdout and "skipped" not in tests.stdout, tests.stdout
    listed = subprocess.run([deskpilot, "plugins", "--json"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    [row] = [row for row in json.loads(listed.stdout) if row["name"] == "orders"]
    assert row["status"] == "loaded" and row["problems"] == [], row
    assert {key: row["registered"][key] for key in registered} == registered
    subprocess.run([str(dev_venv), "-m", "pip", "uninstall", "--quiet", "--yes",
                    "deskpilot-orders"], check=True, capture_output=True, timeout=120)


def test_plugin_new_refuses_a_bad_name_and_an_occupied_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from deskpilot.core.cli import build_app

    cli = build_app([])
    bad = CliRunner().invoke(cli, ["plugin", "new", "Order-Status", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "use lowercase letters" in bad.output
    kind = CliRunner().invoke(cli, ["plugin", "new", "orders", "--kind", "widget",
                                    "--dir", str(tmp_path)])
    assert kind.exit_code == 2 and "one of connector, tool, hooks" in kind.output
    (tmp_path / "deskpilot-orders").mkdir()
    (tmp_path / "deskpilot-orders" / "keep.txt").write_text("mine")
    taken = CliRunner().invoke(cli, ["plugin", "new", "orders", "--dir", str(tmp_path)])
    assert taken.exit_code == 2 and "already exists and is not empty" in taken.output
    assert (tmp_path / "deskpilot-orders" / "keep.txt").read_text() == "mine"
