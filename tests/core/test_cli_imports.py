"""Commands that neither embed nor serve import no model, no agent and no server libraries:
that is what makes them quick (bench/cli_startup.py measures how quick)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "sentence_transformers", "agents", "chatkit", "openai", "fastapi",
         "qdrant_client", "qdrant_edge", "numpy", "bs4")
# Runs the CLI like the `deskpilot` script and says, as it exits, which heavy modules it loaded.
PROBE = """
import atexit, json, sys
atexit.register(lambda: print("HEAVY=" + json.dumps(sorted(
    m for m in {heavy!r} if m in sys.modules))))
sys.argv = ["deskpilot", *{args!r}]
from deskpilot.core.cli import main
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["config", "check"],
                                  ["sync", "status"], ["escalations"], ["db", "upgrade"]])
def test_a_quick_command_loads_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, args=args)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("HEAVY=")]
    assert json.loads(line.removeprefix("HEAVY=")) == []
