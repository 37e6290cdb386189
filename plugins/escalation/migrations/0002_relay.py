"""Two-way relay: who speaks in an escalated conversation, and the relayed messages.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalation") as batch:
        batch.add_column(sa.Column("owner", sa.String(), nullable=False,
                                   server_default="person"))
        batch.add_column(sa.Column("ticket_status", sa.String(), nullable=True))
        batch.add_column(sa.Column("customer_email", sa.String(), nullable=True))
    op.create_table(
        "relay_message",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("escalation_id", sa.String(), nullable=False, index=True),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_name", sa.String(), nullable=True),
        sa.Column("event", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("ref", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("escalation_id", "direction", "source_id"),
    )
    op.create_index("ix_relay_message_due", "relay_message",
                    ["direction", "status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_relay_message_due", table_name="relay_message")
    op.drop_table("relay_message")
    with op.batch_alter_table("escalation") as batch:
        batch.drop_column("customer_email")
        batch.drop_column("ticket_status")
        batch.drop_column("owner")
