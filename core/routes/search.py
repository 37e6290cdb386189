"""Admin: search the knowledge as the customer agent (public) or a support agent would."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from deskpilot._documents import DocumentKind
from deskpilot.core.deps import AdminDep, ServicesDep
from deskpilot.core.search import AudienceName, search_passages

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[AdminDep])


@router.get("/search")
async def search(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, description="the question")],
    k: Annotated[int, Query(ge=1, le=50, description="how many documents")] = 5,
    audience: Annotated[AudienceName, Query(
        description="public: what customers may read; internal: also internal notes"
    )] = "public",
    source: Annotated[str | None, Query(description="only this connector")] = None,
    kind: DocumentKind | None = None,
    locale: str | None = None,
) -> dict[str, Any]:
    """The best passage of each of the `k` best documents, with score, title, url and text."""
    passages = await services.run_blocking(
        search_passages, services, q, k, audience, source, kind, locale)
    return {"query": q, "audience": audience, "passages": passages}
