"""The database: an engine from a URL, migrations, sessions. SQLite (WAL) by default."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import create_engine

from deskpilot._time import utcnow
from deskpilot.core.private_files import private_dir, private_file
from deskpilot.core.tables import AuditEvent, WriteClaim
from deskpilot.knowledge.store import session_scope

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            # SQLite gives its -wal and -shm files the database file's mode.
            private_dir(Path(path).parent)
            private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the server read while a sync writes; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL, the usual setting with WAL: no fsync per commit (chat writes are queued on
            # one writer thread, and waiting for the disk there delayed every new thread's first
            # event). An application crash loses nothing; an OS crash or power loss may roll back
            # the last commits; the database never corrupts.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


#: The platform's own migration history; each plugin that registers migrations has its own.
CORE = "core"


def version_table(history: str) -> str:
    """Where a history's applied revision is kept: plugins' histories never mix with the
    core's, so a plugin can be added, denied or removed without touching the others."""
    return "alembic_version" if history == CORE else f"alembic_version_{history}"


def _alembic_config(engine: Engine, history: str = CORE, versions: Path | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if versions is not None:
        config.set_main_option("version_locations", str(versions))
    config.attributes["engine"] = engine
    config.attributes["version_table"] = version_table(history)
    return config


def _histories(plugins: Mapping[str, Path]) -> dict[str, Path | None]:
    return {CORE: None, **{name: Path(folder) for name, folder in sorted(plugins.items())}}


def _latest(versions: Path | None) -> str:
    """A history's latest revision, by the naming rule every migration here follows: the file
    `NNNN_what.py` is revision "NNNN", revising the one before (tests/core/test_store.py)."""
    folder = versions or MIGRATIONS / "versions"
    return max(path.name.split("_", 1)[0] for path in folder.glob("[0-9]*_*.py"))


def _at_latest(engine: Engine, histories: Mapping[str, Path | None]) -> bool:
    """Whether every history is at its latest revision, read without Alembic (which costs a
    command-line call most of its start-up when there is nothing to do)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as connection:
            for history, versions in histories.items():
                current = connection.execute(
                    text(f"SELECT version_num FROM {version_table(history)}")).scalars().all()
                if current != [_latest(versions)]:
                    return False
    except SQLAlchemyError:  # no version table yet
        return False
    return True


def upgrade(engine: Engine, plugins: Mapping[str, Path] | None = None) -> None:
    """Bring the core's schema and every plugin's (`{plugin: versions folder}`) to their latest
    revision; idempotent."""
    histories = _histories(plugins or {})
    if _at_latest(engine, histories):
        return
    from alembic import command

    for history, versions in histories.items():
        command.upgrade(_alembic_config(engine, history, versions), "head")


def schema_state(engine: Engine, plugins: Mapping[str, Path] | None = None
                 ) -> dict[str, tuple[str | None, str | None]]:
    """Per history: (the database's revision, the latest revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    state = {}
    with engine.connect() as connection:
        for history, versions in _histories(plugins or {}).items():
            config = _alembic_config(engine, history, versions)
            context = MigrationContext.configure(
                connection, opts={"version_table": version_table(history)})
            head = ScriptDirectory.from_config(config).get_current_head()
            state[history] = (context.get_current_revision(), head)
    return state


def current_revision(engine: Engine) -> str | None:
    """The core history's revision (what `deskpilot db upgrade` reports)."""
    return schema_state(engine)[CORE][0]


def head_revision(engine: Engine) -> str | None:
    return schema_state(engine)[CORE][1]


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def audit(engine: Engine, kind: str, subject: str = "", **data: Any) -> None:
    with session_scope(engine) as session:
        session.add(AuditEvent(kind=kind, subject=subject, data=data))


def audit_log(engine: Engine, kind: str, subject: str) -> list[dict[str, Any]]:
    """The `data` of every audit record of `kind` about `subject`, oldest first."""
    from sqlmodel import Session, col, select

    with Session(engine) as session:
        rows = session.exec(select(AuditEvent.data).where(
            AuditEvent.kind == kind, AuditEvent.subject == subject).order_by(col(AuditEvent.id)))
        return [dict(data or {}) for data in rows]


def claim_write(engine: Engine, kind: str, subject: str) -> bool:
    """True for the one caller that takes (kind, subject); False once anyone has."""
    try:
        with session_scope(engine) as session:
            session.execute(insert(WriteClaim).values(kind=kind, subject=subject,
                                                      claimed_at=utcnow()))
        return True
    except IntegrityError:
        return False


def release_write(engine: Engine, kind: str, subject: str) -> None:
    """Give a claim back: the write it was taken for did not happen."""
    with session_scope(engine) as session:
        session.execute(delete(WriteClaim).where(WriteClaim.kind == kind,
                                                 WriteClaim.subject == subject))
