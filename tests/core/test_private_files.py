"""The database (transcripts) and the index (internal notes) are private: files 0600 in 0700
folders, whatever the umask (attachments: tests/core/chat/test_attachments_private.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deskpilot.core import store
from tests.conftest import mode


def test_the_sqlite_database_is_private_under_an_open_umask(tmp_path: Path,
                                                             open_umask: None) -> None:
    folder = tmp_path / "data"
    engine = store.make_engine(f"sqlite:///{folder / 'deskpilot.db'}")
    store.upgrade(engine)
    engine.dispose()
    assert mode(folder) == 0o700
    for path in folder.iterdir():
        assert mode(path) == 0o600, path


def test_every_command_creates_private_files(tmp_path: Path) -> None:
    """The CLI (serve included) runs with umask 077: also what native libraries (the index)
    create is private."""
    data_dir = tmp_path / "cli"
    # `db upgrade` makes the database; `index optimize` opens (so creates) the embedded index.
    for command in ("db upgrade", "index optimize"):
        subprocess.run(
            ["sh", "-c", f"umask 000 && {sys.executable} -m deskpilot.core.cli {command} "
                         f"--data-dir {data_dir}"], check=True, capture_output=True)
    created = [data_dir, *data_dir.rglob("*")]
    assert data_dir / "deskpilot.db" in created and (data_dir / "index").is_dir(), created
    assert [p for p in created if p.parent.name == "segments"], "the index wrote no segment"
    for path in created:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
