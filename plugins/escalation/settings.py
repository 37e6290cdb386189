"""`[escalation]`: where handed-over conversations go."""

from __future__ import annotations

import deskpilot


class EscalationSettings(deskpilot.Options):
    # The connector that receives escalated conversations as tickets. Unset: the first
    # configured connector that can create tickets.
    connector: str | None = None
