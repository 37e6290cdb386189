"""Alembic environment: the engine is handed over by core.store, never read from an ini file."""

import deskpilot.core.chat.tables  # noqa: F401 - registers the tables on SQLModel.metadata
import deskpilot.core.tables  # noqa: F401
import deskpilot.core.webhooks  # noqa: F401
import deskpilot.knowledge.tickets  # noqa: F401
import deskpilot.plugins.escalation_table  # noqa: F401
from alembic import context
from sqlmodel import SQLModel

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
