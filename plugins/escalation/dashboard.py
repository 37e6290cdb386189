"""The dashboard's Escalations page: each handed-over conversation, whether the helpdesk has it,
and the relayed messages in each direction by delivery status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

import deskpilot

from .outbox import EscalationOutbox
from .tables import EscalationStatus, RelayMessage


def context(platform: deskpilot.Platform, query: Mapping[str, str]) -> dict[str, Any]:
    wanted = query.get("status") or None
    if wanted is not None and wanted not in set(EscalationStatus):
        raise deskpilot.ClientError(422, f"status must be one of: {', '.join(EscalationStatus)}")
    everything = EscalationOutbox(platform).list()  # newest first; the counts need them all
    rows = [row for row in everything if row.status == wanted] if wanted else everything
    relayed: dict[str, Counter[tuple[str, str]]] = {}
    with Session(platform.engine) as session:
        for escalation_id, direction, status, count in session.exec(
                select(RelayMessage.escalation_id, RelayMessage.direction, RelayMessage.status,
                       func.count())
                .group_by(RelayMessage.escalation_id, RelayMessage.direction,
                          RelayMessage.status)):
            relayed.setdefault(escalation_id, Counter())[(direction, status)] = count
    return {"escalations": rows, "relayed": relayed, "status": wanted or "",
            "statuses": list(EscalationStatus),
            "counts": Counter(row.status for row in everything)}


PAGE = deskpilot.DashboardPage(name="escalations", title="Escalations",
                               template=Path(__file__).with_name("dashboard.html"),
                               context=context)
