"""kill -9 during a sync, then a restart: the dead run is marked interrupted, the dead process's
lock is taken over at once, and the sync resumes from its checkpoint without waiting for the
next interval (here an hour)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, func, select

from deskpilot.core import schedule
from deskpilot.core.services import Services
from deskpilot.knowledge.runs import recent_runs
from deskpilot.knowledge.tables import SourceDocument
from tests.knowledge.conftest import CountingEmbedder

ARTICLES = 100  # five pages of the local connector's 20
REPO = Path(__file__).resolve().parents[2]

# The first process: the same settings as make_services, an embedder slow enough to be killed
# mid-run, a line on stdout after every committed page.
SYNCER = """
import sys, time
from pathlib import Path
from deskpilot.core.config import ConnectorSettings, EmbedderSettings, Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services
from tests.knowledge.conftest import CountingEmbedder, _TestPlugin

embed = CountingEmbedder.embed_documents
def slow(self, texts):
    time.sleep(0.5)
    return embed(self, texts)
CountingEmbedder.embed_documents = slow

data, folder = Path(sys.argv[1]), sys.argv[2]
settings = Settings(data_dir=data, embedder=EmbedderSettings(name="counting", batch_size=8),
                    connectors={"kb": ConnectorSettings(type="local", path=folder)})
services = Services(settings, plugins=load_plugins(settings.plugins,
                                                   extra=[("test-embedder", _TestPlugin())]))
services.sync("kb", progress=lambda n: print("page", n, flush=True))
print("finished", flush=True)
"""


def _registered(services: Services) -> int:
    with Session(services.engine) as session:
        return session.exec(select(func.count()).select_from(SourceDocument)).one()


def test_kill_9_mid_sync_then_restart_resumes_at_once(
    make_services: Callable[..., Services], tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    for n in range(ARTICLES):
        (folder / f"a{n:03}.md").write_text(f"# Article {n}\n\nAbout topic {n} and more.\n")
    services = make_services({"kb": {"type": "local", "path": str(folder),
                                     "interval_seconds": 3600}})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([sys.executable, "-c", SYNCER, str(tmp_path / "data"), str(folder)],
                             stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        line = first.stdout.readline()  # one page committed, the next one embedding
        assert line.startswith("page"), line
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    [(run,)] = [tuple(rows) for rows in recent_runs(services.engine, "kb").values()]
    assert run["status"] == "running"  # what the dead process left behind
    done_before = _registered(services)
    assert 0 < done_before < ARTICLES

    CountingEmbedder.embedded = []
    scheduler = schedule.start_scheduler(services)  # the restart
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = recent_runs(services.engine, "kb")["kb"]
            if runs[0]["status"] not in ("running",) and len(runs) == 2:
                break
            time.sleep(0.2)
    finally:
        scheduler.stop()
    resumed, interrupted = recent_runs(services.engine, "kb")["kb"]
    assert interrupted["status"] == "interrupted" and "resumed" in interrupted["error"]
    assert resumed["status"] == "succeeded", resumed
    assert _registered(services) == ARTICLES
    # From the checkpoint: what the first process finished is neither listed nor embedded again.
    assert resumed["articles"]["indexed"] == ARTICLES - done_before
    assert len(CountingEmbedder.embedded) == ARTICLES - done_before
