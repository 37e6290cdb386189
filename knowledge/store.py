"""Database helpers shared by the engine's tables and the platform's: sessions, upserts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dialect_insert(engine: Engine) -> Any:
    """The engine's own `insert`, for INSERT … ON CONFLICT (both databases support it, each
    through its dialect's construct)."""
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
