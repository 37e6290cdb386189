"""Admin: the answer-snippet review queue (`/v1/admin/snippets`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, Field

import deskpilot

from .queue import SnippetQueue, to_json
from .tables import SnippetStatus


class Approval(BaseModel):
    by: str | None = Field(None, description="who reviewed it (kept with the snippet)")
    question: str | None = Field(None, description="the question, corrected by the reviewer")
    answer: str | None = Field(None, description="the answer, corrected by the reviewer")


class Rejection(BaseModel):
    by: str | None = Field(None, description="who reviewed it (kept with the snippet)")


# A database row id: larger numbers would overflow the column (a 500), so they are a 422.
SnippetId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the snippet's id")]


def approve_and_publish(queue: SnippetQueue, snippet_id: int, approval: Approval
                        ) -> dict[str, Any]:
    snippet = queue.approve(snippet_id, approval.by, approval.question, approval.answer)
    queue.publish()  # the server owns the index: public now, not at the next tick
    return to_json(queue.get(snippet.id or snippet_id), full=True)


def reject_and_withdraw(queue: SnippetQueue, snippet_id: int, rejection: Rejection
                        ) -> dict[str, Any]:
    snippet = queue.reject(snippet_id, rejection.by)
    queue.publish()  # withdrawn if it was public
    return to_json(queue.get(snippet.id or snippet_id), full=True)


def router(platform: deskpilot.Platform) -> APIRouter:
    routes = APIRouter(prefix="/v1/admin/snippets", tags=["snippets"],
                       dependencies=[Depends(platform.require_admin)])
    queue = SnippetQueue(platform)
    not_found = {404: {"description": "no such snippet"},
                 401: {"description": "missing or wrong admin token"}}

    @routes.get("", responses={401: not_found[401]})
    async def list_snippets(
        status: Annotated[SnippetStatus | None, Query(description="only these")] = None,
    ) -> dict[str, Any]:
        """Answer snippets, oldest first: pending ones wait for a review."""
        rows = await platform.run_blocking(queue.list, status)
        return {"snippets": [to_json(s) for s in rows]}

    @routes.get("/{snippet_id}", responses=not_found)
    async def show_snippet(snippet_id: SnippetId) -> dict[str, Any]:
        """One snippet with each solved ticket it was distilled from (redacted)."""
        return to_json(await platform.run_blocking(queue.get, snippet_id), full=True)

    @routes.post("/{snippet_id}/approve", responses=not_found)
    async def approve_snippet(snippet_id: SnippetId,
                              approval: Annotated[Approval | None, Body()] = None
                              ) -> dict[str, Any]:
        """Approve (optionally with a corrected text): customers' answers may use it now."""
        return await platform.run_blocking(approve_and_publish, queue, snippet_id,
                                           approval or Approval(), cpu=True)

    @routes.post("/{snippet_id}/reject", responses=not_found)
    async def reject_snippet(snippet_id: SnippetId,
                             rejection: Annotated[Rejection | None, Body()] = None
                             ) -> dict[str, Any]:
        """Reject: never public (and withdrawn if it was)."""
        return await platform.run_blocking(reject_and_withdraw, queue, snippet_id,
                                           rejection or Rejection(), cpu=True)

    return routes
