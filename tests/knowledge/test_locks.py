"""The sync lock holds across engines and processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import update

from deskpilot._time import utcnow
from deskpilot.core import store
from deskpilot.knowledge.locks import (
    SyncLocked,
    current_holder,
    holder_is_dead,
    is_held,
    new_holder,
    release,
    sync_lock,
    try_acquire,
)
from deskpilot.knowledge.tables import SyncLock

HOLDER = """
import sys
from deskpilot.core import store
from deskpilot.knowledge.locks import sync_lock
engine = store.make_engine(sys.argv[1])
with sync_lock(engine, "kb"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def engines(database_url: str):
    first, second = store.make_engine(database_url), store.make_engine(database_url)
    store.upgrade(first)
    yield first, second
    first.dispose()
    second.dispose()


def test_one_holder_at_a_time_across_engines(engines) -> None:
    first, second = engines
    assert try_acquire(first, "kb", "a")
    assert not try_acquire(second, "kb", "b")
    assert try_acquire(second, "other", "b")  # per connector
    release(first, "kb", "a")
    assert try_acquire(second, "kb", "b")


def test_an_expired_lock_is_taken_over(engines) -> None:
    first, second = engines
    assert try_acquire(first, "kb", "crashed")
    with first.begin() as conn:
        conn.execute(update(SyncLock.__table__).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert try_acquire(second, "kb", "b")
    assert not try_acquire(first, "kb", "crashed")


@contextmanager
def holder_process(database_url: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the "kb" lock until told (a line on stdin) or killed."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, database_url],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()


def test_second_process_gets_a_clear_error(engines, database_url: str) -> None:
    first, _ = engines
    with holder_process(database_url) as holder:
        with (
            pytest.raises(SyncLocked, match=r"sync for kb already running \(holder .+:\d+:"),
            sync_lock(first, "kb"),
        ):
            pass
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        with sync_lock(first, "kb"):  # released at the end of the other process's block
            pass


def test_a_killed_holders_lock_is_taken_over_at_once(engines, database_url: str) -> None:
    first, _ = engines
    with holder_process(database_url) as holder:
        holder.send_signal(signal.SIGKILL)  # kill -9: no release, the lock row stays
        holder.wait(timeout=30)
        assert current_holder(first, "kb") is not None
        with sync_lock(first, "kb"):  # at once, not after the 120 s ttl
            assert current_holder(first, "kb").split(":")[1] == str(os.getpid())


def test_another_hosts_holder_keeps_the_lock_until_its_heartbeat_lapses(engines) -> None:
    first, second = engines
    assert try_acquire(first, "kb", "elsewhere.example:4242:abcd1234")
    assert not try_acquire(second, "kb", new_holder())
    assert is_held(second, "kb")
    with first.begin() as conn:
        conn.execute(update(SyncLock.__table__).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not is_held(second, "kb")
    assert try_acquire(second, "kb", new_holder())


def test_a_holder_with_our_pid_that_is_not_ours_is_a_dead_predecessor(engines) -> None:
    first, _ = engines
    # A restarted container: the old process had our pid (often 1) on the same hostname.
    predecessor = f"{socket.gethostname()}:{os.getpid()}:deadbeef"
    assert try_acquire(first, "kb", predecessor)
    assert holder_is_dead(predecessor) and not is_held(first, "kb")
    with sync_lock(first, "kb") as mine:
        assert not holder_is_dead(mine) and is_held(first, "kb")
