"""Search for people and scripts (CLI, admin API): filters by name, passages as plain data."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from deskpilot.core.documents import Audience, DocumentKind
from deskpilot.knowledge.interfaces import Passage, SearchFilter

if TYPE_CHECKING:
    from deskpilot.core.services import Services

#: `public`: only what customers may read. `internal`: everything a support agent may read,
#: internal notes included.
AudienceName = Literal["public", "internal"]


def search_filter(
    audience: AudienceName = "public", source: str | None = None,
    kind: DocumentKind | str | None = None, locale: str | None = None,
) -> SearchFilter:
    return SearchFilter(
        audience=Audience.PUBLIC if audience == "public" else None,
        source=source or None,
        kind=DocumentKind(kind) if kind else None,
        locale=locale or None,
    )


def as_dict(passage: Passage) -> dict[str, Any]:
    return {
        "score": round(passage.score, 4),
        "title": passage.title,
        "url": passage.url,
        "document_id": passage.document_id,
        "source": passage.source,
        "kind": str(passage.kind),
        "audience": str(passage.audience),
        "locale": passage.locale,
        "text": passage.text,
    }


def passages_json(passages: list[Passage]) -> str:
    """What search tools return to a model: a JSON string (a dict would reach it as a repr)."""
    return json.dumps({"passages": [as_dict(p) for p in passages]})


def search_passages(
    services: Services, query: str, k: int = 5, audience: AudienceName = "public",
    source: str | None = None, kind: DocumentKind | str | None = None, locale: str | None = None,
) -> list[dict[str, Any]]:
    """The best passage of each of the `k` best documents."""
    found = services.searcher.search(
        query, k, search_filter(audience, source, kind, locale), per_document=True
    )
    return [as_dict(p) for p in found]
