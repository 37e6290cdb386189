"""Write-backs at most once: claims taken before a helpdesk write (one draft note per ticket),
and per-delivery step records, so a redelivery or a retry completes what failed and repeats
nothing. A delivery is now keyed by what its signature covers; the sender's id header is kept
beside it (a retry re-signed with a new timestamp keeps that id).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "write_claim",
        sa.Column("kind", sa.String(), primary_key=True),
        sa.Column("subject", sa.String(), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("webhook_delivery") as batch:
        batch.add_column(sa.Column("sender_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("event", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False,
                                   server_default="1"))
        batch.create_unique_constraint("uq_webhook_delivery_sender", ["connector", "sender_id"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_delivery") as batch:
        batch.drop_constraint("uq_webhook_delivery_sender", type_="unique")
        batch.drop_column("attempts")
        batch.drop_column("event")
        batch.drop_column("sender_id")
    op.drop_table("write_claim")
