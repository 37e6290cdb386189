"""Deskpilot's files hold transcripts, internal notes and attachments: they are created 0600
in 0700 folders whatever the umask (the CLI also sets umask 077 for what libraries create)."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty if missing; either way readable by its owner only."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)
    return path
