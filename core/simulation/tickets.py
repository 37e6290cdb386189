"""The past tickets a simulation replays, from a connector or a JSON Lines file.

`--tickets T.jsonl`: one `deskpilot.Ticket` per line, the model connectors hand the platform
(the local connector's `tickets.jsonl` is the same format):

    {"id": "1001", "subject": "Charged twice", "description": "I see two charges...",
     "comments": [{"author_role": "agent", "body": "The first charge was...", "public": true}],
     "status": "solved", "category": "billing", "priority": "high", "tags": ["billing"],
     "updated_at": "2025-05-02T10:41:00Z"}

`id`, `subject` and `description` are required. What the customer says in the replay is the
ticket's opening (the description, else its first public customer comment); the human's actual
reply, which the agent's answer is compared with, is the first public agent comment after it;
`category` is the label triage is checked against. Only solved or closed tickets are replayed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from deskpilot._connector import Connector
from deskpilot._documents import SyncPage, Ticket

#: The connector name tickets from a file are synced under (their origins: "tickets:<id>").
FILE_SOURCE = "tickets"
REPLAYED = frozenset({"solved", "closed"})
_TAGS = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    return " ".join(_TAGS.sub(" ", text).split())


def read_tickets(path: Path) -> list[Ticket]:
    """The tickets of a JSON Lines file; a bad line is a ValueError naming it."""
    from pydantic import ValidationError

    from deskpilot.knowledge.jsonl import read_jsonl

    tickets = []
    for number, record in enumerate(read_jsonl(path), 1):
        try:
            tickets.append(Ticket.model_validate({"kind": "ticket", **record}))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise ValueError(f"{path}: ticket {number}: {where}: {problem['msg']}") from None
    return tickets


class TicketFile(Connector):
    """The tickets of a file as a connector, so the sync engine indexes them like any helpdesk's
    (triage learns from them; the snippets plugin distils them)."""

    type = "ticket-file"

    def __init__(self, tickets: list[Ticket], name: str = FILE_SOURCE) -> None:
        super().__init__(name, Connector.Options())
        self.tickets = tickets

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        yield SyncPage(documents=list(self.tickets))


def opening(ticket: Ticket) -> str:
    """What the customer wrote first: the message replayed into the chat."""
    text = plain(ticket.description)
    if not text:
        first = next((c for c in ticket.comments if c.public and c.author_role == "customer"),
                     None)
        text = plain(first.body) if first else ""
    return text or plain(ticket.subject)


def human_reply(ticket: Ticket) -> str | None:
    """The first public reply a person on the team gave."""
    reply = next((c for c in ticket.comments if c.public and c.author_role == "agent"), None)
    return plain(reply.body) if reply else None


def replayable(tickets: list[Ticket], since: datetime | None, limit: int | None) -> list[Ticket]:
    """Solved tickets (since `since`), newest first, at most `limit`."""
    chosen = [t for t in tickets if t.status.lower() in REPLAYED
              and (since is None or (t.updated_at is not None and t.updated_at >= since))]
    chosen.sort(key=lambda t: (t.updated_at is not None, t.updated_at or 0, t.id), reverse=True)
    return chosen[:limit] if limit else chosen


def fold(ticket_id: str) -> int:
    """0 or 1, fixed per ticket: triage for one fold learns from the other only."""
    return hashlib.sha256(ticket_id.encode()).digest()[0] % 2
