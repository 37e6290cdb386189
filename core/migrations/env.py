"""Alembic environment: the engine is handed over by core.store, never read from an ini file."""

from alembic import context
from sqlmodel import SQLModel

import core.chat.tables  # noqa: F401 - registers the tables on SQLModel.metadata
import core.tables  # noqa: F401
import core.webhooks  # noqa: F401
import knowledge.tickets  # noqa: F401
import plugins.escalation_table  # noqa: F401

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
