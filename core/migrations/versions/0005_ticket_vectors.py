"""Ticket vectors: past tickets' embeddings kept across restarts, so triage and tagging do not
embed every labelled ticket again after each start.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_vector",
        # "name:model:dimension" of the embedder: another model never reuses these vectors.
        sa.Column("embedder", sa.String(), primary_key=True),
        sa.Column("text_sha256", sa.String(), primary_key=True),
        # Little-endian float32, 4 bytes per dimension.
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ticket_vector")
