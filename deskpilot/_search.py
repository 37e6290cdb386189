"""What a knowledge search takes and gives: filters and passages, and their JSON for models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deskpilot._documents import Audience, DocumentKind


@dataclass(frozen=True)
class SearchFilter:
    """Payload filters. `audience=PUBLIC` is how the customer agent is kept to public knowledge."""

    audience: Audience | None = None
    source: str | None = None
    kind: DocumentKind | None = None
    locale: str | None = None
    # Leave out every passage that comes from one of these tickets ("connector:ticket_id"):
    # the ticket itself and what was distilled from it (`Article.derived_from`).
    exclude_origins: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Passage:
    score: float
    document_id: str
    title: str
    text: str
    url: str | None
    source: str
    kind: DocumentKind
    audience: Audience
    locale: str = "en"
    position: int = 0
    # A ticket's internal note (audience INTERNAL like the rest of a ticket): never quoted in
    # a reply, not even to the ticket's own customer.
    note: bool = False
    # A ticket's passage: who wrote each line of `text` ("customer", "agent", "system"; "" for
    # the title). Empty for articles, and for tickets indexed before authors were recorded.
    authors: tuple[str, ...] = ()
    # The lines of `text` that are headings: its section's after the title, and any it holds.
    headings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as the search API, the CLI and the search tools give it."""
        return {
            "score": round(self.score, 4),
            "title": self.title,
            "url": self.url,
            "document_id": self.document_id,
            "source": self.source,
            "kind": str(self.kind),
            "audience": str(self.audience),
            "locale": self.locale,
            "headings": list(self.headings),
            "text": self.text,
        }


def passages_json(passages: list[Passage]) -> str:
    """What search tools return to a model: a JSON string (a dict would reach it as a repr)."""
    return json.dumps({"passages": [p.as_dict() for p in passages]})
