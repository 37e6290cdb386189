"""One turn at a time per thread: a message's turn (saving it, the agent's answer) ends before
the next message on that thread is taken, so each answer is built from the history up to its
own message.

Within a process an asyncio lock per thread does it. Several server processes (workers) share
the database only when it is PostgreSQL: there a turn also holds a PostgreSQL advisory lock
keyed on the thread id, on a connection of its own (session-level locks belong to a connection,
and a pooled one would go back to the pool with the lock, or be held from the pool for a
whole answer). SQLite is one process's database: the asyncio lock is all it needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: Returns the thread's turn (the release: sync, idempotent).
Release = Callable[[], None]

# A turn that outlives this (a stream whose release was lost) no longer holds the others back.
MAX_WAIT = 120.0


class ThreadTurns:
    """Per process; with `engine` on PostgreSQL, across processes too."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._across = (AdvisoryLocks(engine) if engine is not None
                        and engine.dialect.name == "postgresql" else None)

    async def acquire(self, thread_id: str) -> Release:
        """Wait for the thread's turn; returns the release (idempotent)."""
        lock = self._locks.setdefault(thread_id, asyncio.Lock())
        self._users[thread_id] = self._users.get(thread_id, 0) + 1
        try:
            await asyncio.wait_for(lock.acquire(), MAX_WAIT)
            held = True
        except TimeoutError:
            log.warning("thread %s: the previous turn did not end in %.0f s; going on",
                        thread_id, MAX_WAIT)
            held = False
        except BaseException:  # the request was cancelled while it waited
            self._release(thread_id, lock, held=False)
            raise
        try:
            release_across = await self._across.acquire(thread_id) if self._across else _nothing
        except BaseException:
            self._release(thread_id, lock, held)
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                release_across()
                self._release(thread_id, lock, held)

        return release

    def _release(self, thread_id: str, lock: asyncio.Lock, held: bool) -> None:
        if held:
            lock.release()
        self._users[thread_id] -= 1
        if self._users[thread_id] == 0:
            del self._users[thread_id]
            self._locks.pop(thread_id, None)


def lock_key(thread_id: str) -> int:
    """The advisory lock's key: 64 bits of the thread id's hash (a signed bigint)."""
    digest = hashlib.blake2b(f"deskpilot.turn:{thread_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLocks:
    """`pg_advisory_lock` per thread, each held on its own connection until released."""

    def __init__(self, engine: Engine) -> None:
        self.conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._unlocking: set[asyncio.Task[None]] = set()

    async def acquire(self, thread_id: str) -> Release:
        import psycopg

        connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        try:
            # The server times the wait out: a turn on another worker that never ends (a lost
            # connection is released by the server) does not hold this one forever.
            await connection.execute(f"SET lock_timeout = '{int(MAX_WAIT * 1000)}ms'")
            await connection.execute("SELECT pg_advisory_lock(%s)", (lock_key(thread_id),))
        except psycopg.errors.LockNotAvailable:
            log.warning("thread %s: the previous turn on another worker did not end in %.0f s;"
                        " going on", thread_id, MAX_WAIT)
            await connection.close()
            return _nothing
        except BaseException:
            await connection.close()
            raise

        def release() -> None:
            # Closing the connection ends its session, and the lock with it. Release is called
            # from synchronous clean-up (a stream's end), so the close runs as its own task.
            task = asyncio.get_running_loop().create_task(connection.close())
            self._unlocking.add(task)
            task.add_done_callback(self._unlocking.discard)

        return release


def _nothing() -> None:
    pass
