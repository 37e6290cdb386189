"""The Freshdesk connector against a fake speaking Freshdesk's v2 wire format, plus Deskpilot's
contract kit (`deskpilot.testkit`, also loaded as the `deskpilot` pytest plugin)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from deskpilot import DocumentKind, DocumentRef
from deskpilot.testkit import ConnectorContract

from deskpilot_freshdesk import FreshdeskConnector

PRIVATE = "Private: customer threatened a chargeback"
PAGE_LIMIT = 2  # Freshdesk's is 300; small here so the window has to move


def ts(n: int) -> str:
    return f"2024-03-01T10:00:{n:02d}Z"


class FakeFreshdesk:
    def __init__(self, *, throttle_every: int = 0) -> None:
        self.throttle_every = throttle_every
        self.missing: set[str] = set()  # paths answered 404
        self.count = 0
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []
        self.folders = {1: [11, 12], 2: [21]}
        self.articles = {
            11: [{"id": 111, "title": "Reset password", "description": "<p>Reset</p>",
                  "status": 2, "updated_at": ts(1)},
                 {"id": 112, "title": "Draft", "description": "<p>WIP</p>", "status": 1,
                  "updated_at": ts(2)},
                 {"id": 113, "title": "Refunds", "description": "<p>5 days</p>", "status": 2,
                  "updated_at": ts(3)}],
            12: [],
            21: [{"id": 211, "title": "API keys", "description": "<p>Keys</p>", "status": 2,
                  "updated_at": ts(4)}],
        }
        # Tickets 4 and 5 share a second: the edge case of an inclusive updated_since.
        seconds = [10, 11, 12, 13, 13, 14, 15]
        self.tickets = [
            {"id": n + 1, "subject": f"Ticket {n + 1}", "description": f"<p>Help {n + 1}</p>",
             "description_text": f"Help {n + 1}", "status": [2, 3, 4, 5][n % 4],
             "priority": 1 + n % 4, "tags": ["t"], "updated_at": ts(s)}
            for n, s in enumerate(seconds)
        ]
        self.conversations = {
            t["id"]: [{"id": t["id"] * 10 + k, "body_text": f"reply {k}", "private": False,
                       "incoming": k % 2 == 0, "created_at": ts(20 + k)} for k in range(3)]
            for t in self.tickets
        }
        self.conversations[2].append({"id": 999, "body_text": PRIVATE, "private": True,
                                      "incoming": False, "created_at": ts(30)})

    def all_ids(self) -> set[tuple[str, str]]:
        return ({("article", str(a["id"])) for rows in self.articles.values() for a in rows}
                | {("ticket", str(t["id"])) for t in self.tickets})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        params = dict(request.url.params)
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, params, body))
        if self.throttle_every and self.count % self.throttle_every == 0:
            return httpx.Response(429, headers={"Retry-After": "1"})
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"key:X").decode():
            return httpx.Response(401, json={"code": "invalid_credentials"})
        if request.url.path in self.missing:
            return httpx.Response(404, json={"code": "not_found"})
        return self.route(request.method, request.url.path, params, body)

    @staticmethod
    def page(rows: list[Any], params: dict[str, str]) -> list[Any]:
        page, per_page = int(params.get("page", 1)), int(params.get("per_page", 30))
        return rows[(page - 1) * per_page : page * per_page]

    def route(self, method: str, path: str, params: dict[str, str], body: Any) -> httpx.Response:
        parts = path.strip("/").split("/")
        if path == "/api/v2/solutions/categories":
            return httpx.Response(200, json=[{"id": c, "name": f"c{c}"} for c in self.folders])
        if parts[3:4] == ["categories"] and parts[-1] == "folders":
            return httpx.Response(200, json=[{"id": f} for f in self.folders[int(parts[4])]])
        if parts[3:4] == ["folders"]:
            return httpx.Response(200, json=self.page(self.articles[int(parts[4])], params))
        if path == "/api/v2/tickets":
            assert params["order_by"] == "updated_at" and params["order_type"] == "asc"
            assert params["include"] == "description"
            if int(params["page"]) > PAGE_LIMIT:
                return httpx.Response(400, json={"description": "Validation failed", "errors": [
                    {"field": "page", "message": f"Must be <= {PAGE_LIMIT}"}]})
            rows = [t for t in self.tickets if t["updated_at"] >= params["updated_since"]]
            return httpx.Response(200, json=self.page(rows, params))
        if method == "GET" and parts[2:3] == ["tickets"] and len(parts) == 4:
            found = [t for t in self.tickets if t["id"] == int(parts[3])]
            if found:
                return httpx.Response(200, json=found[0])
        if method == "GET" and parts[2:4] == ["solutions", "articles"]:
            found = [a for rows in self.articles.values() for a in rows
                     if a["id"] == int(parts[4])]
            if found:
                return httpx.Response(200, json=found[0])
        if parts[-1] == "conversations":
            return httpx.Response(200, json=self.page(self.conversations[int(parts[3])], params))
        if method == "POST" and parts[-1] == "notes":
            return httpx.Response(201, json={"id": 1, **body})
        return httpx.Response(404, json={"code": "not_found"})


def make(fake: FakeFreshdesk) -> FreshdeskConnector:
    options = FreshdeskConnector.Options(base_url="https://acme.freshdesk.test", api_key="key",
                                         per_page=2, max_pages=PAGE_LIMIT)
    return FreshdeskConnector("fd", options, transport=httpx.MockTransport(fake),
                              sleep=lambda _: None)


def test_sync_reads_everything_despite_429s_and_the_page_limit() -> None:
    fake = FakeFreshdesk(throttle_every=3)
    docs = {(d.kind, d.id): d for p in make(fake).fetch(None) for d in p.documents}
    assert set(docs) == fake.all_ids()
    assert docs[("article", "112")].published is False
    assert docs[("ticket", "3")].status == "solved" and docs[("ticket", "3")].priority == "high"
    private = [c for c in docs[("ticket", "2")].comments if not c.public]
    assert [c.body for c in private] == [PRIVATE]
    pages = [int(c[2]["page"]) for c in fake.calls if c[1] == "/api/v2/tickets"]
    assert max(pages) == PAGE_LIMIT, "never asks for a page Freshdesk refuses"


def test_add_note_is_private() -> None:
    fake = FakeFreshdesk()
    make(fake).add_note("7", "Suggested reply: …")
    assert fake.calls == [("POST", "/api/v2/tickets/7/notes", {},
                           {"body": "Suggested reply: …", "private": True})]


class TestFreshdeskContract(ConnectorContract):
    @pytest.fixture
    def connector(self) -> FreshdeskConnector:
        return make(FakeFreshdesk(throttle_every=3))

    @pytest.fixture
    def private_comment_bodies(self) -> list[str]:
        return [PRIVATE]

    @pytest.fixture
    def failing_document(self) -> tuple[FreshdeskConnector, DocumentRef]:
        fake = FakeFreshdesk(throttle_every=3)
        fake.missing.add("/api/v2/tickets/3/conversations")
        return make(fake), DocumentRef(kind=DocumentKind.TICKET, id="3")


def test_a_ticket_whose_conversations_fail_is_fetched_again_by_id() -> None:
    fake = FakeFreshdesk()
    fake.missing.add("/api/v2/tickets/3/conversations")
    ref = DocumentRef(kind=DocumentKind.TICKET, id="3")
    again = make(fake).refetch([ref])  # the ticket is there, its conversations are not
    assert [f.ref for f in again.failures] == [ref] and not again.deleted
    gone = make(fake).refetch([DocumentRef(kind=DocumentKind.TICKET, id="99")])
    assert [r.id for r in gone.deleted] == ["99"]
    fake.missing.clear()
    assert [d.id for d in make(fake).refetch([ref]).documents] == ["3"]
