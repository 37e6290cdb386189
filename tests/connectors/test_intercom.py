"""Intercom connector against an in-process fake that speaks Intercom's documented wire format."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import deskpilot
from deskpilot._connector import Connector, NotSupported
from deskpilot._documents import DocumentKind, DocumentRef, EscalationRequest, SyncPage
from deskpilot.connectors.intercom import IntercomConnector, strip_html
from deskpilot.testkit import ConnectorContract

BASE = "https://api.intercom.test"
T0 = 1_700_000_000
PRIVATE_NOTE = "Note to team: customer is on a legacy discount, do not mention it"
PRIVATE_ASSIGN = "Assigning to billing: chargeback risk"


def part(pid: str, part_type: str, author: str, body: str | None, at: int) -> dict[str, Any]:
    who = {"name": "Tom Admin", "email": "tom@acme.test"} if author == "admin" else {}
    return {"type": "conversation_part", "id": pid, "part_type": part_type, "body": body,
            "created_at": at, "updated_at": at, "author": {"type": author, "id": "x", **who}}


class FakeIntercom:
    """A small Intercom workspace. Every `throttle_every`-th request gets a 429 whose
    `X-RateLimit-Reset` is an epoch two seconds ahead."""

    def __init__(self, *, throttle_every: int = 0, fail_at: frozenset[int] = frozenset()) -> None:
        self.throttle_every = throttle_every
        self.fail_at = fail_at
        self.count = 0
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []
        self.articles = [
            {"type": "article", "id": str(10 + n), "title": f"Article {n}",
             "body": f"<p>Body {n}</p>", "state": "draft" if n == 2 else "published",
             "url": f"https://help.acme.test/en/articles/{10 + n}", "default_locale": "en",
             "updated_at": T0 + n * 10}
            for n in range(5)
        ]
        self.conversations: dict[str, dict[str, Any]] = {}
        for n in range(5):
            parts = [part(f"{n}a", "comment", "admin", f"<p>Reply {n}</p>", T0 + n),
                     part(f"{n}b", "assignment", "bot", None, T0 + n)]
            if n == 1:
                parts.append(part("1c", "note", "admin", f"<p>{PRIVATE_NOTE}</p>", T0 + 5))
            if n == 3:
                parts.append(part("3c", "assignment", "admin", PRIVATE_ASSIGN, T0 + 6))
            self.conversations[str(200 + n)] = {
                "type": "conversation", "id": str(200 + n),
                "title": "Billing question" if n == 0 else None,
                # two conversations share an updated_at second: the checkpoint's edge case
                "updated_at": T0 + 100 + (n if n < 4 else 3), "created_at": T0,
                "state": ["open", "closed", "snoozed", "closed", "closed"][n],
                "priority": "priority" if n == 0 else "not_priority",
                "source": {"type": "conversation", "id": f"s{n}", "subject": "",
                           "body": f"<p>Hello, <b>my order {n}</b> is late</p>",
                           "author": {"type": "user", "id": "u1", "name": "Ann Lee",
                                      "email": "ann@example.com"}},
                "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": "1", "name": "vip"}]},
                "conversation_parts": {"type": "conversation_part.list",
                                       "conversation_parts": parts, "total_count": len(parts)},
            }
        self.tags = [{"type": "tag", "id": "1", "name": "vip"}]
        self.companies: dict[str, list[dict[str, Any]]] = {}  # contact id -> its companies
        self.missing: set[str] = set()  # paths answered 404
        self.forbidden: set[str] = set()  # paths answered 403 (a token without that scope)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        body = json.loads(request.content) if request.content else None
        params = dict(request.url.params)
        self.calls.append((request.method, request.url.path, params, body))
        if self.throttle_every and self.count % self.throttle_every == 0:
            reset = str(int(time.time()) + 2)
            return httpx.Response(429, headers={"X-RateLimit-Limit": "1000",
                                                "X-RateLimit-Remaining": "0",
                                                "X-RateLimit-Reset": reset},
                                  json={"type": "error.list", "errors": [
                                      {"code": "rate_limit_exceeded"}]})
        if self.count in self.fail_at:
            return httpx.Response(502, text="Bad Gateway")
        if (request.headers.get("Authorization") != "Bearer tok"
                or request.headers.get("Intercom-Version") != "2.11"):
            return httpx.Response(401, json={"type": "error.list",
                                             "errors": [{"code": "unauthorized"}]})
        if request.url.path in self.missing:
            return httpx.Response(404, json={"type": "error.list",
                                             "errors": [{"code": "not_found"}]})
        if request.url.path in self.forbidden:
            return httpx.Response(403, json={"type": "error.list",
                                             "errors": [{"code": "token_unauthorized"}]})
        return self.route(request.method, request.url.path, params, body)

    def route(self, method: str, path: str, params: dict[str, str], body: Any) -> httpx.Response:
        if (method, path) == ("GET", "/articles"):
            page, per_page = int(params["page"]), min(int(params["per_page"]), 2)
            total = -(-len(self.articles) // per_page)
            data = self.articles[(page - 1) * per_page : page * per_page]
            return httpx.Response(200, json={
                "type": "list", "data": data, "total_count": len(self.articles),
                "pages": {"type": "pages", "page": page, "per_page": per_page,
                          "total_pages": total}})
        if (method, path) == ("POST", "/conversations/search"):
            query, pagination = body["query"], body["pagination"]
            assert query["field"] == "updated_at" and query["operator"] == ">"
            assert pagination["per_page"] <= 150
            hits = [c for c in self.conversations.values() if c["updated_at"] > query["value"]]
            start = int(pagination.get("starting_after", "c0").removeprefix("c"))
            page = hits[start : start + 2]
            end = start + len(page)
            pages: dict[str, Any] = {"type": "pages", "per_page": 2}
            if end < len(hits):
                pages["next"] = {"page": end // 2 + 1, "starting_after": f"c{end}"}
            return httpx.Response(200, json={
                "type": "conversation.list", "total_count": len(hits), "pages": pages,
                "conversations": [{k: v for k, v in c.items() if k != "conversation_parts"}
                                  for c in page]})
        if (method == "GET" and path.startswith("/conversations/")
                and path.split("/")[2] in self.conversations):
            return httpx.Response(200, json=self.conversations[path.split("/")[2]])
        if method == "GET" and path.startswith("/articles/"):
            found = [a for a in self.articles if a["id"] == path.split("/")[2]]
            if found:
                return httpx.Response(200, json=found[0])
        if method == "GET" and path.startswith("/contacts/") and path.endswith("/companies"):
            companies = self.companies.get(path.split("/")[2], [])
            return httpx.Response(200, json={
                "type": "list", "companies": companies, "total_count": len(companies),
                "pages": {"type": "pages", "next": None, "page": 1, "per_page": 50,
                          "total_pages": 1}})
        if (method, path) == ("GET", "/tags"):
            return httpx.Response(200, json={"type": "list", "data": self.tags})
        if (method, path) == ("POST", "/tags"):
            tag = {"type": "tag", "id": str(len(self.tags) + 1), "name": body["name"]}
            self.tags.append(tag)
            return httpx.Response(200, json=tag)
        if (method, path) == ("POST", "/contacts/search"):
            found = body["query"]["value"] == "known@example.com"
            return httpx.Response(200, json={"type": "list", "total_count": int(found),
                                             "data": [{"type": "contact", "id": "ct1"}] * found})
        if (method, path) == ("POST", "/contacts"):
            return httpx.Response(200, json={"type": "contact", "id": "ct-new", **body})
        if (method, path) == ("POST", "/conversations"):
            return httpx.Response(200, json={"type": "user_message", "id": "m1",
                                             "conversation_id": "999"})
        if method == "POST" and path.startswith("/conversations/"):
            return httpx.Response(200, json={"type": "conversation", "id": path.split("/")[2]})
        return httpx.Response(404, json={"type": "error.list", "errors": [{"code": "not_found"}]})


def make(fake: FakeIntercom, slept: list[float] | None = None, **options: Any
         ) -> IntercomConnector:
    opts = IntercomConnector.Options(base_url=BASE, access_token="tok", admin_id="7",
                                     client_secret="shh", **options)
    return IntercomConnector("ic", opts, transport=httpx.MockTransport(fake),
                             sleep=(slept.append if slept is not None else lambda _: None))


def records(pages: list[SyncPage]) -> dict[tuple[str, str], Any]:
    docs = {(d.kind, d.id): d for p in pages for d in p.documents}
    assert len(docs) == sum(len(p.documents) for p in pages), "duplicate documents"
    return docs


def all_ids(fake: FakeIntercom) -> set[tuple[str, str]]:
    return ({("article", a["id"]) for a in fake.articles}
            | {("ticket", c) for c in fake.conversations})


def test_sync_with_429_on_every_third_request_yields_exactly_the_fakes_records() -> None:
    fake, slept = FakeIntercom(throttle_every=3), []
    assert set(records(list(make(fake, slept).fetch(None)))) == all_ids(fake)
    assert slept and all(0 < s <= 2 for s in slept), "X-RateLimit-Reset (epoch) honoured"


def test_bad_gateway_on_search_is_retried() -> None:
    fake = FakeIntercom(fail_at=frozenset({4}))  # 4th request: the first POST /conversations/search
    assert set(records(list(make(fake).fetch(None)))) == all_ids(fake)
    assert fake.calls[3][1] == fake.calls[4][1] == "/conversations/search"


def test_articles_drafts_and_conversations_mapping() -> None:
    docs = records(list(make(FakeIntercom()).fetch(None)))
    assert docs[("article", "12")].published is False
    assert docs[("article", "10")].updated_at == datetime.fromtimestamp(T0, UTC)
    billing = docs[("ticket", "200")]
    assert billing.subject == "Billing question" and billing.status == "open"
    assert billing.priority == "high" and billing.tags == ["vip"]
    untitled = docs[("ticket", "201")]
    assert untitled.subject == "Hello, my order 1 is late" and untitled.status == "solved"
    assert docs[("ticket", "202")].status == "pending"
    assert [(c.body, c.public, c.author_role) for c in untitled.comments] == [
        ("Reply 1", True, "agent"), (PRIVATE_NOTE, False, "agent")]
    # The people on it, which answer snippets remove by name.
    assert untitled.requester == deskpilot.Person(name="Ann Lee", email="ann@example.com")
    assert [c.author for c in untitled.comments] == [
        deskpilot.Person(name="Tom Admin", email="tom@acme.test")] * 2
    assert docs[("ticket", "203")].comments[-1].public is False  # assignment with a body


def test_the_requesters_company_is_known_so_answer_snippets_can_remove_it() -> None:
    # Answer snippets remove the organisation "as the connector knows it": it knew none.
    fake = FakeIntercom()
    fake.companies["u1"] = [{"type": "company", "id": "c1", "company_id": "globex",
                             "name": "Globex Corporation", "created_at": T0}]
    docs = records(list(make(fake, include_articles=False).fetch(None)))
    assert {docs[("ticket", c)].requester.organization for c in fake.conversations} == {
        "Globex Corporation"}
    asked = [c for c in fake.calls if c[1] == "/contacts/u1/companies"]
    assert len(asked) == 1  # once a sync for the five conversations of the same customer
    assert docs[("ticket", "201")].comments[0].author.organization is None  # an admin


def test_companies_that_may_not_be_read_leave_conversations_syncing() -> None:
    fake = FakeIntercom()
    fake.forbidden.add("/contacts/u1/companies")
    pages = list(make(fake, include_articles=False).fetch(None))
    docs = records(pages)
    assert {k for k in docs if k[0] == "ticket"} == {("ticket", c) for c in fake.conversations}
    assert docs[("ticket", "200")].requester.organization is None
    warnings = [w for p in pages for w in p.warnings]
    assert len(warnings) == 1 and "compan" in warnings[0] and "403" in warnings[0]


def test_an_untitled_conversation_says_its_first_line_once() -> None:
    from deskpilot.knowledge.text import chunk_document

    fake = FakeIntercom()
    fake.conversations["201"]["source"]["body"] = (
        "<p>My order 1 is late</p><p>It was due Monday.</p>")
    ticket = records(list(make(fake).fetch(None)))[("ticket", "201")]
    assert (ticket.subject, ticket.description) == ("My order 1 is late", "It was due Monday.")
    for chunk in chunk_document("ic", ticket):
        assert chunk.text.count("My order 1 is late") == 1


def test_a_404_on_one_conversation_fails_that_conversation_only() -> None:
    fake = FakeIntercom()
    fake.missing.add("/conversations/202")
    pages = list(make(fake).fetch(None))
    docs = records(pages)
    assert {i for k, i in docs if k == "ticket"} == {"200", "201", "203", "204"}
    [failure] = [f for p in pages for f in p.failures]
    assert (failure.ref.id, failure.status) == ("202", 404)
    assert failure.url == f"{BASE}/conversations/202?display_as=plaintext"
    again = make(fake).refetch([failure.ref])  # still 404 when asked by id: it was deleted
    assert [r.id for r in again.deleted] == ["202"]
    fake.missing.clear()
    assert [d.id for d in make(fake).refetch([failure.ref]).documents] == ["202"]


@pytest.mark.parametrize("status", [404, 403])
def test_a_workspace_without_help_center_syncs_conversations_and_warns_once(status: int
                                                                            ) -> None:
    fake = FakeIntercom()
    (fake.missing if status == 404 else fake.forbidden).add("/articles")
    pages = list(make(fake).fetch(None))
    assert {k for k, _ in records(pages)} == {"ticket"}
    [warning] = [w for p in pages for w in p.warnings]
    assert "articles are off" in warning and str(status) in warning
    fake.calls.clear()
    again = list(make(fake).fetch(json.loads(json.dumps(pages[-1].checkpoint))))
    assert not [w for p in again for w in p.warnings]
    assert not [c for c in fake.calls if c[1] == "/articles"]


def test_search_asks_for_150_per_page_and_follows_starting_after() -> None:
    fake = FakeIntercom()
    list(make(fake, include_articles=False).fetch(None))
    searches = [c[3]["pagination"] for c in fake.calls if c[1] == "/conversations/search"]
    assert searches == [{"per_page": 150}, {"per_page": 150, "starting_after": "c2"},
                        {"per_page": 150, "starting_after": "c4"}]


def test_interrupted_sync_resumes_from_last_checkpoint_without_loss_or_duplicates() -> None:
    fake = FakeIntercom(throttle_every=3)
    for stop_after in range(1, 6):
        saved: dict[str, Any] | None = None
        applied: list[SyncPage] = []
        with pytest.raises(RuntimeError):
            for n, page in enumerate(make(fake).fetch(None)):
                applied.append(page)
                saved = json.loads(json.dumps(page.checkpoint))
                if n + 1 == stop_after:
                    raise RuntimeError("killed")
        applied += make(fake).fetch(saved)
        assert set(records(applied)) == all_ids(fake)


def test_next_sync_gets_only_changes_including_the_edge_second() -> None:
    fake = FakeIntercom()
    checkpoint = list(make(fake).fetch(None))[-1].checkpoint
    assert checkpoint["conversations"]["since"] == T0 + 103
    assert sorted(checkpoint["conversations"]["edge"]) == ["203", "204"]
    assert records(list(make(fake).fetch(checkpoint))) == {}
    fake.conversations["204"]["state"] = "open"  # changed again within the same second
    fake.conversations["204"]["updated_at"] = T0 + 104
    fake.articles[0]["updated_at"] = T0 + 500
    assert set(records(list(make(fake).fetch(checkpoint)))) == {("ticket", "204"),
                                                                ("article", "10")}


def test_add_note_posts_an_admin_note() -> None:
    fake = FakeIntercom()
    make(fake).add_note("200", "Draft reply: try again")
    assert fake.calls == [("POST", "/conversations/200/reply", {}, {
        "message_type": "note", "type": "admin", "admin_id": "7", "body": "Draft reply: try again"
    })]


def test_add_tags_resolves_existing_and_creates_missing_tags() -> None:
    fake = FakeIntercom()
    make(fake).add_tags("200", ["vip", "refund"])
    assert [(m, p, b) for m, p, _, b in fake.calls] == [
        ("GET", "/tags", None),
        ("POST", "/conversations/200/tags", {"id": "1", "admin_id": "7"}),
        ("GET", "/tags", None),
        ("POST", "/tags", {"name": "refund"}),
        ("POST", "/conversations/200/tags", {"id": "2", "admin_id": "7"}),
    ]


def test_escalation_opens_a_conversation_for_the_customer_and_assigns_it() -> None:
    fake = FakeIntercom()
    request = EscalationRequest(subject="Order late", transcript="user: where is it?",
                                customer_id="cust-9", customer_email="new@example.com",
                                customer_name="Neu")
    assert make(fake, escalation_assignee_id="team-5").create_ticket(request) == "999"
    assert [(m, p, b) for m, p, _, b in fake.calls] == [
        ("POST", "/contacts/search",
         {"query": {"field": "email", "operator": "=", "value": "new@example.com"}}),
        ("POST", "/contacts", {"role": "user", "email": "new@example.com",
                               "external_id": "cust-9", "name": "Neu"}),
        ("POST", "/conversations", {"from": {"type": "user", "id": "ct-new"},
                                    "body": "Order late\n\nuser: where is it?"}),
        ("POST", "/conversations/999/parts", {"message_type": "assignment", "type": "admin",
                                              "admin_id": "7", "assignee_id": "team-5"}),
    ]


def test_escalation_of_an_intercom_conversation_assigns_it_with_a_note() -> None:
    fake = FakeIntercom()
    request = EscalationRequest(subject="Order late", transcript="t", customer_id="c",
                                triage={"intercom_conversation_id": "201"})
    assert make(fake, escalation_assignee_id="team-5").create_ticket(request) == "201"
    assert [(m, p) for m, p, _, _ in fake.calls] == [
        ("POST", "/conversations/201/reply"), ("POST", "/conversations/201/parts")]


def test_write_back_without_admin_id_is_refused_clearly() -> None:
    opts = IntercomConnector.Options(base_url=BASE, access_token="tok")
    with pytest.raises(NotSupported, match="admin_id"):
        IntercomConnector("ic", opts, transport=httpx.MockTransport(FakeIntercom())
                          ).add_note("1", "x")


def test_webhook_signature() -> None:
    connector, body = make(FakeIntercom()), b'{"topic":"conversation.user.created"}'
    good = "sha1=" + hmac.new(b"shh", body, hashlib.sha1).hexdigest()
    assert connector.verify_webhook({"X-Hub-Signature": good}, body)
    assert not connector.verify_webhook({"X-Hub-Signature": good}, body + b"x")
    assert not connector.verify_webhook({"X-Hub-Signature": "sha1=" + "0" * 40}, body)
    assert not connector.verify_webhook({}, body)


def test_region_hosts() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(200, json={"type": "list", "data": []})

    for region in ("us", "eu", "au"):
        opts = IntercomConnector.Options(access_token="t", region=region)
        IntercomConnector("ic", opts, transport=httpx.MockTransport(handler)).tag_vocabulary()
    assert seen == ["api.intercom.io", "api.eu.intercom.io", "api.au.intercom.io"]


def test_strip_html() -> None:
    assert strip_html("<p>Hi <b>there</b></p><p>Line&nbsp;2</p>") == "Hi there\nLine\xa02"


def test_registered_through_the_hook() -> None:
    from deskpilot.connectors import intercom

    registered: list[type[Connector]] = []
    intercom.register_connectors(registered.append)
    assert registered == [IntercomConnector]


class TestIntercomContract(ConnectorContract):
    @pytest.fixture
    def connector(self) -> IntercomConnector:
        return make(FakeIntercom(throttle_every=3))

    @pytest.fixture
    def private_comment_bodies(self) -> list[str]:
        return [PRIVATE_NOTE, PRIVATE_ASSIGN]

    @pytest.fixture
    def failing_document(self) -> tuple[IntercomConnector, DocumentRef]:
        fake = FakeIntercom(throttle_every=3)
        fake.missing.add("/conversations/203")
        return make(fake), DocumentRef(kind=DocumentKind.TICKET, id="203")
