"""A Freshdesk connector, built only on Deskpilot's public API (`import deskpilot`).

- articles: `GET /api/v2/solutions/categories` → `…/categories/{id}/folders` →
  `…/folders/{id}/articles`; Freshdesk cannot filter them by date, so each sync walks them all
  and keeps those changed since the last; `status` 1 (draft) is reported unpublished.
- tickets: `GET /api/v2/tickets?updated_since=…&order_by=updated_at&order_type=asc&page=…`.
  Freshdesk refuses page 301 and beyond, so after `max_pages` pages the window restarts at the
  newest `updated_at` seen. Conversations per ticket; `private` notes become internal comments.

`updated_since` includes its own second, so the checkpoint also remembers which ids were synced
in that second (`edge`) and skips them unless they changed again.

A ticket whose conversations cannot be read is a failure of that ticket alone (the engine
retries it later through `refetch`); the rest of the page still syncs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from deskpilot import (
    Article,
    Capability,
    Comment,
    ConnectorOptions,
    DocumentKind,
    DocumentRef,
    HelpdeskError,
    HttpConnector,
    SyncPage,
    Ticket,
)
from pydantic import Field, SecretStr, model_validator

STATUSES = {2: "open", 3: "pending", 4: "solved", 5: "closed"}
PRIORITIES = {1: "low", 2: "normal", 3: "high", 4: "urgent"}
DRAFT = 1


class FreshdeskOptions(ConnectorOptions):
    domain: str | None = None  # "acme" for acme.freshdesk.com
    base_url: str | None = None  # instead of domain: a proxy, or a fake in tests
    api_key: SecretStr
    updated_since: str = "1970-01-01T00:00:00Z"
    include_articles: bool = True
    include_tickets: bool = True
    per_page: int = Field(100, ge=1, le=100)
    max_pages: int = Field(300, ge=1, le=300)

    @model_validator(mode="after")
    def _site(self) -> FreshdeskOptions:
        if not (self.domain or self.base_url):
            raise ValueError("set domain (or base_url)")
        return self

    @property
    def url(self) -> str:
        return (self.base_url or f"https://{self.domain}.freshdesk.com").rstrip("/")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Watermark:
    """A stream's place in the checkpoint (a plain dict, so it survives JSON): synced up to
    `since`, the ids synced at exactly `since` in `edge`, the newest change this pass saw."""

    def __init__(self, state: dict[str, Any], start: str) -> None:
        self.state = state
        state.setdefault("since", start)
        state.setdefault("edge", [])
        state.setdefault("seen", state["since"])
        state.setdefault("seen_edge", list(state["edge"]))

    def is_new(self, item_id: str, updated: str) -> bool:
        since = self.state["since"]
        return updated > since or (updated == since and item_id not in self.state["edge"])

    def saw(self, item_id: str, updated: str) -> None:
        if updated > self.state["seen"]:
            self.state["seen"], self.state["seen_edge"] = updated, [item_id]
        elif updated == self.state["seen"] and item_id not in self.state["seen_edge"]:
            self.state["seen_edge"].append(item_id)

    def advance(self) -> None:
        """Everything up to the newest change seen is synced: start there next time."""
        self.state.update(since=self.state["seen"], edge=list(self.state["seen_edge"]))


class FreshdeskConnector(HttpConnector):
    type: ClassVar[str] = "freshdesk"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.NOTES})
    Options = FreshdeskOptions
    options: FreshdeskOptions

    def base_url(self) -> str:
        return self.options.url

    def auth(self) -> tuple[str, str]:
        # Freshdesk's Basic auth: the API key as user name, any password ("X" by convention).
        return (self.options.api_key.get_secret_value(), "X")

    def _get(self, path: str, **params: Any) -> Any:
        # Raises deskpilot.HelpdeskError: one line naming the URL, what failed, what to do.
        return self.request_json("GET", path, params=params)

    def _paged(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            rows = self._get(path, page=page, per_page=self.options.per_page, **params)
            yield from rows
            if len(rows) < self.options.per_page:
                return
            page += 1

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        state = {"articles": {}, "tickets": {}}
        state.update({key: dict(value) for key, value in (checkpoint or {}).items()})
        if self.options.include_articles:
            yield from self._article_pages(state)
        if self.options.include_tickets:
            yield from self._ticket_pages(state)

    # -- articles ---------------------------------------------------------------------------
    def _article_pages(self, state: dict[str, Any]) -> Iterator[SyncPage]:
        mark = Watermark(state["articles"], self.options.updated_since)
        done: list[int] = state["articles"].setdefault("done_folders", [])
        folders = [
            folder["id"]
            for category in self._get("/api/v2/solutions/categories")
            for folder in self._get(f"/api/v2/solutions/categories/{category['id']}/folders")
        ]
        for index, folder_id in enumerate(folders):
            if folder_id in done:
                continue
            articles = []
            for raw in self._paged(f"/api/v2/solutions/folders/{folder_id}/articles"):
                if mark.is_new(str(raw["id"]), raw["updated_at"]):
                    articles.append(self._article(raw))
                mark.saw(str(raw["id"]), raw["updated_at"])
            done.append(folder_id)
            if index == len(folders) - 1:
                mark.advance()
                done.clear()
            yield SyncPage(documents=articles, checkpoint=copy.deepcopy(state))

    def _article(self, raw: dict[str, Any]) -> Article:
        return Article(
            id=str(raw["id"]),
            title=raw.get("title") or "",
            body_html=raw.get("description") or "",
            url=f"{self.options.url}/support/solutions/articles/{raw['id']}",
            updated_at=parse_time(raw.get("updated_at")),
            published=raw.get("status") != DRAFT,
        )

    # -- tickets ----------------------------------------------------------------------------
    def _ticket_pages(self, state: dict[str, Any]) -> Iterator[SyncPage]:
        mark = Watermark(state["tickets"], self.options.updated_since)
        tickets_state = state["tickets"]
        while True:
            page = tickets_state.get("page", 1)
            rows = self._get("/api/v2/tickets", updated_since=tickets_state["since"],
                             order_by="updated_at", order_type="asc", page=page,
                             per_page=self.options.per_page, include="description")
            result = SyncPage()
            for raw in rows:
                if mark.is_new(str(raw["id"]), raw["updated_at"]):
                    self._add_ticket(result, raw)
                mark.saw(str(raw["id"]), raw["updated_at"])
            last = len(rows) < self.options.per_page
            if last or page >= self.options.max_pages:
                # Caught up, or at Freshdesk's page limit: restart from the newest change seen.
                mark.advance()
                tickets_state["page"] = 1
            else:
                tickets_state["page"] = page + 1
            result.checkpoint = copy.deepcopy(state)
            yield result
            if last:
                return

    def _add_ticket(self, page: SyncPage, raw: dict[str, Any]) -> None:
        try:
            page.documents.append(self._ticket(raw))
        except HelpdeskError as exc:  # this ticket's own request failed: it alone
            ref = DocumentRef(kind=DocumentKind.TICKET, id=str(raw["id"]))
            page.failures.append(self.failure(ref, exc))

    def refetch_document(self, ref: DocumentRef, page: SyncPage) -> None:
        # A 404 raised here means deleted (HttpConnector.refetch); a 404 on its conversations
        # is caught by _add_ticket: a failure of that ticket, which still exists.
        if ref.kind == DocumentKind.TICKET:
            self._add_ticket(page, self._get(f"/api/v2/tickets/{ref.id}", include="description"))
        else:
            page.documents.append(self._article(self._get(f"/api/v2/solutions/articles/{ref.id}")))

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        comments = [
            Comment(
                author_role="customer" if note.get("incoming") else "agent",
                body=note.get("body_text") or "",
                public=not note.get("private", True),  # unknown: keep it internal
                created_at=parse_time(note.get("created_at")),
            )
            for note in self._paged(f"/api/v2/tickets/{raw['id']}/conversations")
        ]
        return Ticket(
            id=str(raw["id"]),
            subject=raw.get("subject") or "",
            description=raw.get("description_text") or "",
            comments=comments,
            tags=list(raw.get("tags") or []),
            status=STATUSES.get(raw.get("status"), "open"),
            priority=PRIORITIES.get(raw.get("priority")),
            url=f"{self.options.url}/a/tickets/{raw['id']}",
            updated_at=parse_time(raw.get("updated_at")),
        )

    # -- write-back -------------------------------------------------------------------------
    def add_note(self, ticket_id: str, body: str) -> None:
        response = self.http.post(f"/api/v2/tickets/{ticket_id}/notes",
                                   json={"body": body, "private": True})
        response.raise_for_status()

