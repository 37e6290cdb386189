"""Escalation outbox: a conversation handed to a person, kept until the helpdesk has it.

Revision ID: 0001
Revises: -

The table was created by the core's revision 0003 before plugins had histories of their own,
so a database upgraded from then already has it: it is created here only when missing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("escalation"):
        return
    op.create_table(
        "escalation",
        sa.Column("id", sa.String(), primary_key=True),
        # One escalation per thread: a retried request never creates a second ticket.
        sa.Column("thread_id", sa.String(), nullable=False, unique=True),
        sa.Column("user_id", sa.String(), nullable=False, index=True),
        sa.Column("connector", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("ticket_ref", sa.String(), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_escalation_due", "escalation", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_escalation_due", table_name="escalation")
    op.drop_table("escalation")
