"""Search for people and scripts (CLI, admin API): filters by name, passages as plain data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from deskpilot._documents import Audience, DocumentKind
from deskpilot._search import SearchFilter

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


def search_passages(
    services: Services, query: str, k: int = 5, audience: AudienceName = "public",
    source: str | None = None, kind: DocumentKind | str | None = None, locale: str | None = None,
) -> list[dict[str, Any]]:
    """The best passage of each of the `k` best documents."""
    found = services.search(
        query, k, search_filter(audience, source, kind, locale), per_document=True
    )
    return [p.as_dict() for p in found]
