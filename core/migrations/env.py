"""Alembic environment for the core's history and every plugin's: the engine and the version
table are handed over by deskpilot.core.store, never read from an ini file. No table modules are
imported: upgrades run the migration scripts, which describe the schema themselves."""

from alembic import context

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        version_table=config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
