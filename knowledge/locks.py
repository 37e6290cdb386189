"""One sync per connector at a time, across threads, processes and API workers.

The lock is a row in `sync_lock` (connector, holder, expires_at). Taking it is one atomic
statement — UPDATE the row if it has expired, else INSERT it (the primary key refuses a second
holder) — so it works the same on SQLite and PostgreSQL. The holder renews the expiry while it
works (its heartbeat); a crashed holder stops renewing and its lock lapses after `ttl` seconds.

A holder is `host:pid:random`. A lock whose holder is known dead is taken over at once instead
of after the ttl: on the same host, when its process is gone (or the pid is ours but the holder
is not: a restarted container reuses pids); on another host only its lapsed heartbeat says so.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from deskpilot._errors import ClientError
from deskpilot._time import utcnow
from deskpilot.knowledge.tables import SyncLock

log = logging.getLogger(__name__)

DEFAULT_TTL = 120.0
_table = SyncLock.__table__
# Holders this process has now: the others naming our pid are a dead predecessor's.
_held: set[str] = set()


class SyncLocked(ClientError):
    """Another holder runs a sync of this connector (409)."""

    def __init__(self, connector: str, holder: str) -> None:
        super().__init__(409, f"sync for {connector} already running (holder {holder})")
        self.connector = connector
        self.holder = holder


def new_holder() -> str:
    """host:pid:random — says who holds a lock when someone asks."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True when `holder` is known to have stopped: a process of this host that is gone."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another host's process: only its heartbeat can tell
    if holder in _held:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # our pid, not our holder: a previous process that had the same pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def try_acquire(engine: Engine, connector: str, holder: str, ttl: float = DEFAULT_TTL) -> bool:
    now = utcnow()
    expires = now + timedelta(seconds=ttl)
    with engine.begin() as conn:
        taken = conn.execute(
            update(_table)
            .where(_table.c.connector == connector, _table.c.expires_at < now)
            .values(holder=holder, expires_at=expires)
        ).rowcount
    if taken:
        return True
    try:
        with engine.begin() as conn:
            conn.execute(insert(_table).values(connector=connector, holder=holder,
                                               expires_at=expires))
    except IntegrityError:  # a row exists: someone holds it, or held it and died
        previous = current_holder(engine, connector)
        if previous is None or not holder_is_dead(previous):
            return False
        with engine.begin() as conn:  # only if still that dead holder's: one taker wins
            taken = conn.execute(
                update(_table)
                .where(_table.c.connector == connector, _table.c.holder == previous)
                .values(holder=holder, expires_at=expires)
            ).rowcount
        if not taken:
            return False
        log.warning("sync lock for %s taken over from %s, whose process is gone",
                    connector, previous)
    return True


def is_held(engine: Engine, connector: str) -> bool:
    """Whether a live holder has the connector's lock (not lapsed, not known dead)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(_table.c.holder, _table.c.expires_at).where(_table.c.connector == connector)
        ).first()
    if row is None:
        return False
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return expires >= utcnow() and not holder_is_dead(row.holder)


def current_holder(engine: Engine, connector: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(_table.c.holder).where(_table.c.connector == connector)
        ).scalar_one_or_none()


def renew(engine: Engine, connector: str, holder: str, ttl: float = DEFAULT_TTL) -> bool:
    """Push the expiry forward; False if the lock was lost (expired and taken by another)."""
    with engine.begin() as conn:
        return bool(conn.execute(
            update(_table)
            .where(_table.c.connector == connector, _table.c.holder == holder)
            .values(expires_at=utcnow() + timedelta(seconds=ttl))
        ).rowcount)


def release(engine: Engine, connector: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            delete(_table).where(_table.c.connector == connector, _table.c.holder == holder)
        )


@contextmanager
def sync_lock(engine: Engine, connector: str, ttl: float = DEFAULT_TTL) -> Iterator[str]:
    """Hold the connector's lock for the block, renewing it every ttl/3 seconds.

    Raises SyncLocked at once if another holder has it.
    """
    holder = new_holder()
    _held.add(holder)
    if not try_acquire(engine, connector, holder, ttl):
        _held.discard(holder)
        raise SyncLocked(connector, current_holder(engine, connector) or "unknown")
    stop = threading.Event()

    def keep_alive() -> None:
        while not stop.wait(ttl / 3):
            try:
                if not renew(engine, connector, holder, ttl):
                    log.warning("sync lock for %s was lost (expired); holder %s", connector, holder)
                    return
            except Exception as exc:  # a database hiccup: try again next period
                log.warning("could not renew the sync lock for %s: %s", connector, exc)

    renewer = threading.Thread(target=keep_alive, name=f"sync-lock-{connector}", daemon=True)
    renewer.start()
    try:
        yield holder
    finally:
        stop.set()
        renewer.join()
        release(engine, connector, holder)
        _held.discard(holder)
