"""(Formerly: the escalation outbox.) Kept as a step of the history so that databases at any
revision upgrade; the table now belongs to the escalation plugin, whose own migrations create
it (and keep it where this revision made it before).

Revision ID: 0003
Revises: 0002
"""

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
