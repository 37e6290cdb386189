"""Acceptance (issue 13, item 2): canaries in a solved ticket's public reply — an invoice
number, the requester's email, a phone number — never reach another visitor through
`/chatkit` (offline model), the widget's history or public search, and appear in the ticket's
answer snippet only redacted, before and after it is approved. Real parts: SQLite, the embedded
Qdrant index, the local connector's sync, the chat endpoint and the offline model."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from deskpilot.core.app import create_app
from tests.core.chat.protocol import ChatClient

from .conftest import ADMIN, CANARIES, INVOICE, MakeServices

AUTH = {"Authorization": f"Bearer {ADMIN}"}
QUESTION = "I was charged twice this month, why?"
# Close to the ticket's reply: what would have quoted it when tickets were public.
PENDING = "Why is there a pending charge on my card?"


def _leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


def _visitor_sees(app, question: str) -> tuple[str, str]:
    """A new visitor asks; returns (the answer, everything the widget got: the stream and the
    visitor's history as the widget loads it: their threads and each thread's items)."""
    visitor = ChatClient(app)
    turn = visitor.create(question)
    assert turn.response.status_code == 200
    history = visitor.list_threads()
    items = [visitor.list_items(t["id"]) for t in history["data"]]
    return turn.assistant_text, json.dumps([turn.events, history, items])


def _public_search(http: TestClient, q: str) -> list[dict]:
    response = http.get("/v1/search", params={"q": q, "k": 10, "audience": "public"},
                        headers=AUTH)
    assert response.status_code == 200
    return response.json()["passages"]


def test_canaries_in_a_solved_tickets_reply_never_reach_another_visitor(
        make_services: MakeServices) -> None:
    services = make_services()
    services.sync("desk")
    app = create_app(services=services)
    http = TestClient(app)
    # The ticket is indexed, for staff: there is something to leak.
    staff = http.get("/v1/search", params={"q": "invoice shows the single payment",
                                           "audience": "internal"},
                     headers=AUTH).json()["passages"]
    assert any(INVOICE in p["text"] for p in staff)

    # Before any review: customers get the help center only.
    for question in (QUESTION, PENDING):
        answer, seen = _visitor_sees(app, question)
        assert answer and not _leaks(seen) and "3-D Secure" not in seen
        passages = _public_search(http, question)
        assert passages and {p["source"] for p in passages} == {"desk"}
        assert {p["kind"] for p in passages} == {"article"} and not _leaks(json.dumps(passages))

    # The ticket's snippet waits for review, redacted.
    [snippet] = http.get("/v1/admin/snippets", headers=AUTH).json()["snippets"]
    assert snippet["status"] == "pending" and snippet["tickets"] == ["desk:1001"]
    shown = http.get(f"/v1/admin/snippets/{snippet['id']}", headers=AUTH).json()
    assert not _leaks(json.dumps(shown))
    assert "3-D Secure" in shown["answer"] and "[number]" in shown["answer"]

    # Approved: public, and still only redacted.
    approved = http.post(f"/v1/admin/snippets/{snippet['id']}/approve", headers=AUTH,
                         json={"by": "reviewer@acme.example"})
    assert approved.status_code == 200 and approved.json()["published"] is True
    passages = _public_search(http, QUESTION)
    from_snippet = [p for p in passages if p["source"] == "snippets"]
    assert from_snippet and "3-D Secure" in from_snippet[0]["text"]
    assert not _leaks(json.dumps(passages))
    answer, seen = _visitor_sees(app, PENDING)
    assert "3-D Secure" in answer and "Charged twice" in answer  # the snippet, cited
    assert not _leaks(seen)
    assert "FIN-8812" not in seen  # nor the ticket's internal note
