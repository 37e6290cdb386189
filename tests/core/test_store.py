"""The foundation schema on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

from deskpilot.core import store
from deskpilot.core.plugins import load_plugins
from deskpilot.core.tables import AuditEvent
from deskpilot.knowledge.tables import SourceDocument, SyncRun, SyncState


def test_upgrade_creates_schema_and_is_idempotent(database_url):
    engine = store.make_engine(database_url)
    assert store.current_revision(engine) is None
    store.upgrade(engine)
    store.upgrade(engine)
    assert store.current_revision(engine) == store.head_revision(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"sync_state", "sync_run", "source_document", "sync_lock", "audit_event"} <= tables
    engine.dispose()


def test_migrations_build_exactly_the_schema_the_models_declare(database_url):
    """A model changed without a migration (or the reverse) shows up here, not in production:
    the core's migrations and every built-in plugin's, against every module declaring tables."""
    import deskpilot.core.chat.tables
    import deskpilot.core.webhooks
    import deskpilot.knowledge.tickets
    import deskpilot.plugins.escalation.tables
    import deskpilot.plugins.snippets.tables  # noqa: F401

    plugins = load_plugins().migrations
    assert {"escalation", "snippets"} <= set(plugins)
    engine = store.make_engine(database_url)
    store.upgrade(engine, plugins)
    version_tables = {store.version_table(h) for h in (store.CORE, *plugins)}

    def ours(obj, name, type_, reflected, compare_to):  # Alembic's own tables are not models
        return not (type_ == "table" and name in version_tables)

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": ours})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def test_rows_round_trip(database_url):
    engine = store.make_engine(database_url)
    store.upgrade(engine)
    with store.session_scope(engine) as session:
        session.add(SyncState(connector="demo", checkpoint={"cursor": "abc", "pages": [1, 2]}))
        session.add(SyncRun(connector="demo", added=3, failures=[{"id": "x", "error": "bad"}]))
        session.add(SourceDocument(connector="demo", kind="article", external_id="a1",
                                   content_hash="h", chunk_count=2, title="T"))
    store.audit(engine, "sync.finished", "demo", added=3)
    with store.session_scope(engine) as session:
        state = session.get(SyncState, "demo")
        assert state.checkpoint == {"cursor": "abc", "pages": [1, 2]}
        run = session.exec(select(SyncRun)).one()
        assert run.failures == [{"id": "x", "error": "bad"}]
        assert session.exec(select(AuditEvent)).one().data == {"added": 3}
    engine.dispose()


def test_session_scope_rolls_back_on_error(database_url):
    engine = store.make_engine(database_url)
    store.upgrade(engine)
    try:
        with store.session_scope(engine) as session:
            session.add(SyncState(connector="demo", checkpoint={"n": 1}))
            raise RuntimeError("crash mid-write")
    except RuntimeError:
        pass
    with store.session_scope(engine) as session:
        assert session.get(SyncState, "demo") is None
    engine.dispose()


def test_sqlite_uses_wal(tmp_path):
    engine = store.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_every_history_follows_the_naming_rule_the_quick_check_reads():
    """store.upgrade skips Alembic when each history is at its latest revision, read from the
    file names: `NNNN_what.py` is revision "NNNN" and revises the file before it."""
    import re

    folders = [store.MIGRATIONS / "versions", *load_plugins().migrations.values()]
    for folder in folders:
        files = sorted(folder.glob("[0-9]*_*.py"))
        assert files, folder
        previous = None
        for path in files:
            source = path.read_text()
            number = path.name.split("_", 1)[0]
            assert re.search(rf'^revision = "{number}"$', source, re.M), path
            assert re.search(rf"^down_revision = {previous!r}$".replace("'", '"'), source,
                             re.M), path
            previous = number


def test_upgrade_is_quick_when_nothing_is_to_do_and_still_upgrades_otherwise(tmp_path):
    engine = store.make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    plugins = load_plugins().migrations
    store.upgrade(engine, plugins)
    assert store._at_latest(engine, store._histories(plugins))
    # As if this database predated the latest revisions (0006 sync failures, 0007 claims).
    from alembic import command

    command.downgrade(store._alembic_config(engine, store.CORE, None), "0005")
    assert "sync_failure" not in inspect(engine).get_table_names()
    assert not store._at_latest(engine, store._histories(plugins))
    store.upgrade(engine, plugins)
    assert "sync_failure" in inspect(engine).get_table_names()
    assert store.current_revision(engine) == store.head_revision(engine)
    engine.dispose()
