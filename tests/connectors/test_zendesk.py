"""Zendesk connector against an in-process fake that speaks Zendesk's documented wire format."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import deskpilot
from deskpilot._connector import Connector
from deskpilot._documents import DocumentKind, DocumentRef, EscalationRequest, SyncPage
from deskpilot.connectors.zendesk import ZendeskConnector
from deskpilot.testkit import ConnectorContract
from tests.plugins.escalation.helpdesk_fakes import zendesk_signed

BASE = "https://acme.zendesk.com"
T0 = 1_700_000_000
PRIVATE_NOTE = "INTERNAL: refund approved by finance, do not tell the customer the reason"
PRIVATE_FIRST = "INTERNAL: VIP account, escalate to tier 2"
EVENTS = "/api/v2/incremental/ticket_events.json"


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def comment(cid: int, author: int, body: str, public: bool, at: int) -> dict[str, Any]:
    return {"id": cid, "type": "Comment", "author_id": author, "body": body,
            "html_body": f"<p>{body}</p>", "plain_body": body, "public": public,
            "created_at": iso(at)}


class FakeZendesk:
    """Holds a small help desk; answers 429 on every `throttle_every`-th request and 503 on
    the request numbers in `fail_at`. `comment_events=False` is a token that may not read the
    ticket events export (it is for admins): 403, as Zendesk answers."""

    def __init__(self, *, per_page: int = 2, throttle_every: int = 0,
                 fail_at: frozenset[int] = frozenset(), comment_events: bool = True,
                 events_per_page: int = 3) -> None:
        # Paths answered 404 (a ticket's comments gone, an account without Help Center).
        self.missing: set[str] = set()
        self.forbidden: set[str] = set()  # paths answered 403 (a token that may not read them)
        self.per_page = per_page
        self.comment_events = comment_events
        self.events_per_page = events_per_page  # Zendesk's is 1,000
        # Child events changing a comment after it was written, by ticket id (see events()).
        self.later_events: dict[int, list[dict[str, Any]]] = {}
        # Request numbers whose write is done but whose answer is lost: a 503, or the
        # connection dropped ("drop"), after Zendesk added the comment.
        self.lost_answers: dict[int, str] = {}
        self.throttle_every = throttle_every
        self.fail_at = fail_at
        self.count = 0
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []
        self.articles = [
            {"id": 101, "title": "Reset your password", "body": "<p>Click reset.</p>",
             "locale": "en-us", "draft": False, "user_segment_id": None},
            {"id": 102, "title": "Upcoming pricing", "body": "<p>Secret plans.</p>",
             "locale": "en-us", "draft": True, "user_segment_id": None},
            {"id": 103, "title": "Passwort zurücksetzen", "body": "<p>Klicken.</p>",
             "locale": "de", "draft": False, "user_segment_id": None},
            {"id": 104, "title": "Agent macros", "body": "<p>Use macros.</p>",
             "locale": "en-us", "draft": False, "user_segment_id": 77},
            {"id": 105, "title": "Refund policy", "body": "<p>Five days.</p>",
             "locale": "en-us", "draft": False, "user_segment_id": None},
        ]
        for n, article in enumerate(self.articles):
            article["updated_at"] = iso(T0 + 100 * n)
            article["html_url"] = f"{BASE}/hc/{article['locale']}/articles/{article['id']}"
        self.tickets = [
            {"id": 1, "subject": "Refund please", "status": "solved", "requester_id": 500,
             "tags": ["billing"], "priority": "normal"},
            {"id": 2, "subject": "Login loop", "status": "closed", "requester_id": 501,
             "tags": [], "priority": None},
            {"id": 3, "subject": "spam", "status": "deleted", "requester_id": 502},
            {"id": 4, "subject": "VIP onboarding", "status": "open", "requester_id": 503,
             "tags": ["vip"], "priority": "high"},
            {"id": 5, "subject": "Export CSV", "status": "solved", "requester_id": 504,
             "tags": [], "priority": "low"},
        ]
        for n, ticket in enumerate(self.tickets):
            ticket["created_at"] = iso(T0 + 10 * n)
            ticket["updated_at"] = iso(T0 + 1000 + 100 * n)
            ticket["url"] = f"{BASE}/api/v2/tickets/{ticket['id']}.json"
        self.comments = {
            1: [comment(11, 500, "I want a refund", True, T0),
                comment(12, 900, "Refund issued", True, T0 + 1),
                comment(13, 900, PRIVATE_NOTE, False, T0 + 2)],
            2: [comment(20 + k, 501 if k % 2 == 0 else 900, f"login message {k}", True,
                        T0 + 10 + k) for k in range(5)],
            4: [comment(41, 900, PRIVATE_FIRST, False, T0 + 30),
                comment(42, 503, "Thanks for the help", True, T0 + 31)],
            5: [comment(51, 504, "How do I export CSV?", True, T0 + 40),
                comment(52, -1, "Ticket solved automatically", True, T0 + 41)],
        }
        self.users = [{"id": 900, "role": "agent", "name": "Tom Agent", "email": "tom@acme.test"},
                      *({"id": 500 + k, "role": "end-user", "name": f"Customer {k}",
                         "email": f"c{k}@example.com"} for k in range(5))]
        self.tags = [{"name": f"tag{k}", "count": k} for k in range(5)]
        self.organizations: list[dict[str, Any]] = []  # see with_organizations()

    def with_organizations(self) -> FakeZendesk:
        """Customer 0 belongs to Globex (their ticket says so too); Customer 1's ticket is
        filed under Initech, though the user record names no organisation; the agent is in
        Acme, the support company itself."""
        self.organizations = [
            {"id": 7001, "name": "Globex Corporation",
             "url": f"{BASE}/api/v2/organizations/7001.json"},
            {"id": 7002, "name": "Initech", "url": f"{BASE}/api/v2/organizations/7002.json"},
            {"id": 7003, "name": "Acme", "url": f"{BASE}/api/v2/organizations/7003.json"}]
        self.users[1]["organization_id"] = 7001
        self.users[0]["organization_id"] = 7003  # the agent, in the support company's own
        self.tickets[0]["organization_id"] = 7001
        self.tickets[1]["organization_id"] = 7002
        return self

    def events(self, comment_events: bool) -> list[dict[str, Any]]:
        """The ticket events export's records, oldest first: an audit per comment (the first
        also creates the ticket), `later_events` and a status change at each ticket's
        `updated_at`. Without the `comment_events` side-load a comment is only flagged."""
        audits: list[dict[str, Any]] = []

        def audit(ticket: int, at: int, updater: int, children: list[dict[str, Any]]) -> None:
            audit_id = 90_000 + len(audits)
            for child in children:
                child.setdefault("id", audit_id * 10 + len(children))
                child.setdefault("via", {"channel": "web", "source": {"from": {}, "to": {},
                                                                      "rel": None}})
            audits.append({"id": audit_id, "ticket_id": ticket, "timestamp": at,
                           "created_at": iso(at), "updater_id": updater, "via": "Web form",
                           "system": {"client": "Mozilla/5.0", "ip_address": "192.0.2.1"},
                           "event_type": "Audit", "child_events": children})

        for ticket in self.tickets:
            ticket_id, created = ticket["id"], int(parse(ticket["created_at"]))
            for n, raw in enumerate(self.comments.get(ticket_id, [])):
                at = int(parse(raw["created_at"]))
                child: dict[str, Any] = {"id": raw["id"], "via_reference_id": None,
                                         "event_type": "Comment"}
                if comment_events:
                    child |= {"type": "Comment", "author_id": raw["author_id"],
                              "body": raw["body"], "html_body": raw["html_body"],
                              "public": raw["public"], "attachments": [],
                              "created_at": raw["created_at"]}
                else:
                    child |= {"comment_present": True, "comment_public": raw["public"]}
                created_now = [{"event_type": "Create", "field_name": "status",
                                "value": "new"}] if n == 0 else []
                audit(ticket_id, max(at, created), raw["author_id"], [*created_now, child])
            later = self.later_events.get(ticket_id, [])
            if later:
                audit(ticket_id, int(parse(ticket["updated_at"])) - 1, 900, later)
            audit(ticket_id, int(parse(ticket["updated_at"])), 900, [
                {"event_type": "Change", "field_name": "status", "value": ticket["status"],
                 "previous_value": "open"}])
        return sorted(audits, key=lambda a: (a["timestamp"], a["id"]))

    # -- expectations -----------------------------------------------------------------------
    def live_article_ids(self) -> set[str]:
        return {str(a["id"]) for a in self.articles}

    def ticket_ids(self, status_deleted: bool) -> set[str]:
        return {str(t["id"]) for t in self.tickets if (t["status"] == "deleted") == status_deleted}

    # -- HTTP -------------------------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        body = json.loads(request.content) if request.content else None
        params = dict(request.url.params)
        self.calls.append((request.method, request.url.path, params, body))
        if self.throttle_every and self.count % self.throttle_every == 0:
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow"})
        if self.count in self.fail_at:
            return httpx.Response(503, text="Service Unavailable")
        expected = "Basic " + base64.b64encode(b"bot@acme.test/token:tok").decode()
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401, json={"error": "Couldn't authenticate you"})
        if request.url.path in self.missing:
            return httpx.Response(404, json={"error": "InvalidEndpoint",
                                             "description": "Not found"})
        if request.url.path in self.forbidden:
            return httpx.Response(403, json={"error": "Forbidden", "description":
                                             "You do not have access to this page"})
        return self.route(request.method, request.url.path, params, body)

    def route(self, method: str, path: str, params: dict[str, str], body: Any) -> httpx.Response:
        if path == "/api/v2/help_center/incremental/articles":
            start = int(params["start_time"])  # inclusive, as Zendesk's is
            newer = sorted((a for a in self.articles
                            if datetime.fromisoformat(a["updated_at"]).timestamp() >= start),
                           key=lambda a: a["updated_at"])
            page = newer[: self.per_page]
            end = int(datetime.fromisoformat(page[-1]["updated_at"]).timestamp()) if page \
                else start
            more = len(newer) > len(page)
            return httpx.Response(200, json={
                "articles": page, "count": len(page), "end_time": end,
                "next_page": f"{BASE}{path}?start_time={end}" if more else None})
        if path == "/api/v2/incremental/ticket_events.json":
            if not self.comment_events:
                return httpx.Response(403, json={
                    "error": "Forbidden", "description": "You do not have access to this page. "
                    "Please contact the account owner of this help desk for further help."})
            start = int(params["start_time"])  # inclusive, as Zendesk's is
            newer = [e for e in self.events(params.get("include") == "comment_events")
                     if e["timestamp"] >= start]
            page = newer[: self.events_per_page]
            end = page[-1]["timestamp"] if page else start
            return httpx.Response(200, json={
                "ticket_events": page, "count": len(page), "end_time": end,
                "end_of_stream": len(page) == len(newer),
                "next_page": f"{BASE}{path}?start_time={end}&include=comment_events"})
        if path in ("/api/v2/users/show_many.json", "/api/v2/organizations/show_many.json"):
            resource = path.split("/")[3]
            ids = params["ids"].split(",")
            assert len(ids) <= 100, "Zendesk's show_many takes up to 100 ids"
            records = self.users if resource == "users" else self.organizations
            return httpx.Response(200, json={
                resource: [r for r in records if str(r["id"]) in ids],
                "next_page": None, "previous_page": None, "count": len(ids)})
        if path == "/api/v2/incremental/tickets/cursor.json":
            if "cursor" in params:
                pos = int(params["cursor"].removeprefix("c"))
            else:
                start = int(params["start_time"])
                pos = sum(1 for t in self.tickets
                          if datetime.fromisoformat(t["updated_at"]).timestamp() < start)
            page = self.tickets[pos : pos + self.per_page]
            end = pos + len(page)
            return httpx.Response(200, json={
                "tickets": page, "after_cursor": f"c{end}", "before_cursor": f"c{pos}",
                "after_url": f"{BASE}{path}?cursor=c{end}", "before_url": None,
                "end_of_stream": end >= len(self.tickets)})
        if method == "GET" and path.startswith("/api/v2/tickets/") and path.endswith("/comments"):
            size = int(params["page[size]"])
            assert size <= 100, "Zendesk refuses page[size] above 100"
            comments = self.comments.get(int(path.split("/")[4]), [])
            pos = int(params.get("page[after]", "p0").removeprefix("p"))
            page = comments[pos : pos + min(size, 2)]
            more = pos + len(page) < len(comments)
            return httpx.Response(200, json={
                "comments": page, "users": self.users if params.get("include") == "users" else [],
                "meta": {"has_more": more, "after_cursor": f"p{pos + len(page)}" if more else None,
                         "before_cursor": None},
                "links": {"next": None, "prev": None}})
        if method == "GET" and path.startswith("/api/v2/tickets/") and path.endswith(".json"):
            ticket_id = int(path.split("/")[4].removesuffix(".json"))
            found = [t for t in self.tickets if t["id"] == ticket_id]
            if found:
                return httpx.Response(200, json={"ticket": found[0]})
        if method == "GET" and path.startswith("/api/v2/help_center/articles/"):
            article_id = int(path.split("/")[5])
            found = [a for a in self.articles if a["id"] == article_id]
            if found:
                return httpx.Response(200, json={"article": found[0]})
        if path == "/api/v2/tags":
            pos = int(params.get("page[after]", "0"))
            page = self.tags[pos : pos + 2]
            more = pos + 2 < len(self.tags)
            return httpx.Response(200, json={
                "tags": page, "meta": {"has_more": more, "after_cursor": str(pos + 2)}})
        if method == "PUT" and path.startswith("/api/v2/tickets/") and (
                "comment" in (body or {}).get("ticket", {})):
            ticket_id, raw = int(path.split("/")[4].removesuffix(".json")), body["ticket"]
            written = comment(70_000 + self.count, raw["comment"].get("author_id", 900),
                              raw["comment"]["body"], raw["comment"]["public"],
                              int(datetime.now(UTC).timestamp()))
            self.comments.setdefault(ticket_id, []).append(written)
            if self.lost_answers.get(self.count) == "drop":
                raise httpx.RemoteProtocolError("peer closed connection without sending "
                                                "complete message body")
            if self.count in self.lost_answers:
                return httpx.Response(503, text="Service Unavailable")
            return httpx.Response(200, json={"ticket": {"id": ticket_id}, "audit": {
                "id": 80_000 + self.count, "ticket_id": ticket_id,
                "events": [{"id": written["id"], "type": "Comment", "public": written["public"],
                            "body": written["body"]}]}})
        if method == "PUT" and path.endswith(".json") or path.endswith("/tags"):
            return httpx.Response(200, json={"ticket": {"id": 1}, "tags": body.get("tags")})
        if method == "POST" and path == "/api/v2/tickets.json":
            return httpx.Response(201, json={"ticket": {"id": 777, **body["ticket"]}})
        return httpx.Response(404, json={"error": "RecordNotFound"})


def make(fake: FakeZendesk, slept: list[float] | None = None, **options: Any) -> ZendeskConnector:
    opts = ZendeskConnector.Options(base_url=BASE, email="bot@acme.test", api_token="tok",
                                    webhook_secret="whsec", **options)
    return ZendeskConnector("zd", opts, transport=httpx.MockTransport(fake),
                            sleep=(slept.append if slept is not None else lambda _: None))


def records(pages: list[SyncPage]) -> tuple[dict[tuple[str, str], Any], set[str]]:
    docs = {(d.kind, d.id): d for p in pages for d in p.documents}
    assert len(docs) == sum(len(p.documents) for p in pages), "duplicate documents"
    return docs, {r.id for p in pages for r in p.deleted}


# -- sync ---------------------------------------------------------------------------------------
def test_sync_with_429_on_every_third_request_yields_exactly_the_fakes_records() -> None:
    fake, slept = FakeZendesk(throttle_every=3), []
    docs, deleted = records(list(make(fake, slept).fetch(None)))
    assert {i for k, i in docs if k == "article"} == fake.live_article_ids()
    assert {i for k, i in docs if k == "ticket"} == fake.ticket_ids(status_deleted=False)
    assert deleted == fake.ticket_ids(status_deleted=True)
    assert slept and set(slept) == {7.0}, "Retry-After must be honoured"


def test_server_errors_are_retried_then_succeed() -> None:
    fake, slept = FakeZendesk(fail_at=frozenset({1, 2, 5})), []
    docs, _ = records(list(make(fake, slept).fetch(None)))
    assert len(docs) == 9
    assert slept[:2] == [0.5, 1.0], "exponential backoff without a Retry-After"


def test_articles_drafts_locales_and_audience() -> None:
    docs, _ = records(list(make(FakeZendesk(), include_tickets=False).fetch(None)))
    assert docs[("article", "102")].published is False
    assert docs[("article", "101")].published is True
    assert docs[("article", "104")].audience == "internal"
    assert docs[("article", "101")].updated_at == datetime.fromtimestamp(T0, UTC)
    only_en, _ = records(list(make(FakeZendesk(), include_tickets=False,
                                   locales=["en-US"]).fetch(None)))
    assert ("article", "103") not in only_en and ("article", "101") in only_en


@pytest.mark.parametrize("bulk", [True, False], ids=["ticket-events", "per-ticket"])
def test_tickets_comments_paginated_and_private_flags_kept(bulk: bool) -> None:
    fake = FakeZendesk(comment_events=bulk)
    docs, _ = records(list(make(fake, include_articles=False).fetch(None)))
    refund = docs[("ticket", "1")]
    assert refund.description == "I want a refund"
    assert [(c.body, c.public, c.author_role) for c in refund.comments] == [
        ("Refund issued", True, "agent"), (PRIVATE_NOTE, False, "agent")]
    login = docs[("ticket", "2")]
    assert len(login.comments) == 4  # 5 comments over 3 pages, the first is the description
    vip = docs[("ticket", "4")]
    assert vip.description == "" and vip.comments[0].public is False
    assert docs[("ticket", "5")].comments[0].author_role == "system"
    assert docs[("ticket", "5")].comments[0].author is None  # the system user is no one
    assert refund.updated_at and refund.updated_at.tzinfo is not None
    pages = [c for c in fake.calls if c[1] == "/api/v2/tickets/2/comments"]
    if bulk:  # the export's pages held them all, authors named by users/show_many
        assert not [c for c in fake.calls if c[1].endswith("/comments")]
        assert {c[2]["include"] for c in fake.calls if c[1] == EVENTS} == {"comment_events"}
    else:
        assert [c[2].get("page[after]") for c in pages] == [None, "p2", "p4"]


def test_interrupted_sync_resumes_from_last_checkpoint_without_loss_or_duplicates() -> None:
    fake = FakeZendesk(throttle_every=3)
    for stop_after in range(1, 7):
        saved: dict[str, Any] | None = None
        applied: list[SyncPage] = []
        with pytest.raises(RuntimeError):
            for n, page in enumerate(make(fake).fetch(None)):
                applied.append(page)
                saved = json.loads(json.dumps(page.checkpoint))  # what the engine persists
                if n + 1 == stop_after:
                    raise RuntimeError("killed")
        applied += make(fake).fetch(saved)
        docs, deleted = records(applied)
        assert {i for k, i in docs if k == "article"} == fake.live_article_ids()
        assert {i for k, i in docs if k == "ticket"} == fake.ticket_ids(status_deleted=False)
        assert deleted == fake.ticket_ids(status_deleted=True)


def test_next_sync_starts_where_the_last_ended() -> None:
    fake = FakeZendesk()
    pages = list(make(fake).fetch(None))
    assert pages[-1].checkpoint == {"articles_start_time": T0 + 400, "articles_edge": ["105"],
                                    "tickets_cursor": "c5", "events_start_time": T0 + 1400}
    # Zendesk's start_time is inclusive: the last article is listed again, and not re-synced.
    again = list(make(fake).fetch(pages[-1].checkpoint))
    assert all(not p.documents and not p.deleted for p in again)


def test_the_people_on_a_ticket_are_known_so_answer_snippets_can_remove_them() -> None:
    docs, _ = records(list(make(FakeZendesk(), include_articles=False).fetch(None)))
    refund = docs[("ticket", "1")]
    assert refund.requester == deskpilot.Person(name="Customer 0", email="c0@example.com")
    assert [c.author for c in refund.comments] == [
        deskpilot.Person(name="Tom Agent", email="tom@acme.test")] * 2


@pytest.mark.parametrize("bulk", [True, False])
def test_the_requesters_organisation_is_known_too(bulk: bool) -> None:
    # Answer snippets remove the organisation "as the connector knows it": it knew none.
    fake = FakeZendesk(comment_events=bulk).with_organizations()
    tickets = tickets_of(fake)
    assert tickets["1"].requester.organization == "Globex Corporation"
    assert tickets["2"].requester.organization == "Initech"  # from the ticket's own record
    assert tickets["4"].requester.organization is None
    # The agent's organisation is the support company's own, which a snippet may name.
    assert [c.author.organization for c in tickets["1"].comments] == [None, None]
    asked = [c for c in fake.calls if c[1] == "/api/v2/organizations/show_many.json"]
    assert [c[2]["ids"] for c in asked] == ["7001,7002"]  # each asked for once a sync
    page = SyncPage()
    make(fake).refetch_document(DocumentRef(kind=DocumentKind.TICKET, id="1"), page)
    assert page.documents[0].requester.organization == "Globex Corporation"


def test_organisations_that_may_not_be_read_leave_tickets_syncing() -> None:
    fake = FakeZendesk().with_organizations()
    fake.forbidden.add("/api/v2/organizations/show_many.json")
    pages = list(make(fake, include_articles=False).fetch(None))
    tickets = {d.id: d for p in pages for d in p.documents}
    assert set(tickets) == fake.ticket_ids(status_deleted=False)
    assert tickets["1"].requester.organization is None
    warnings = [w for p in pages for w in p.warnings]
    assert len(warnings) == 1 and "organisation" in warnings[0] and "403" in warnings[0]


def test_a_404_on_one_tickets_comments_fails_that_ticket_only() -> None:
    fake = FakeZendesk(comment_events=False)
    fake.missing.add("/api/v2/tickets/2/comments")
    pages = list(make(fake).fetch(None))
    docs, deleted = records(pages)
    assert {i for k, i in docs if k == "ticket"} == fake.ticket_ids(status_deleted=False) - {"2"}
    assert {i for k, i in docs if k == "article"} == fake.live_article_ids()
    [failure] = [f for p in pages for f in p.failures]
    assert (failure.ref.kind, failure.ref.id, failure.status) == ("ticket", "2", 404)
    assert failure.url is not None and failure.url.startswith(f"{BASE}/api/v2/tickets/2/comments")
    assert "zd" in failure.error and "404" in failure.error and "tok" not in failure.error
    # Later runs fetch it again; once Zendesk answers, it is a ticket like the others.
    fake.missing.clear()
    healed = make(fake).refetch([failure.ref])
    assert [d.id for d in healed.documents] == ["2"] and not healed.failures
    gone = make(fake).refetch([DocumentRef(kind=DocumentKind.TICKET, id="999")])
    assert [r.id for r in gone.deleted] == ["999"]


@pytest.mark.parametrize("status", [404, 403])
def test_an_account_without_help_center_syncs_tickets_and_warns_once(status: int) -> None:
    fake = FakeZendesk()
    (fake.missing if status == 404 else fake.forbidden).add(
        "/api/v2/help_center/incremental/articles")
    pages = list(make(fake).fetch(None))
    docs, _ = records(pages)
    assert {k for k, _ in docs} == {"ticket"}
    warnings = [w for p in pages for w in p.warnings]
    assert len(warnings) == 1 and "articles are off" in warnings[0]
    assert str(status) in warnings[0]
    fake.calls.clear()
    again = list(make(fake).fetch(json.loads(json.dumps(pages[-1].checkpoint))))
    assert not [w for p in again for w in p.warnings]
    assert not [c for c in fake.calls if "help_center" in c[1]]  # the stream stays off
    fake.missing.clear()  # a --full sync (no checkpoint) tries the stream again
    fake.forbidden.clear()
    docs, _ = records(list(make(fake).fetch(None)))
    assert {i for k, i in docs if k == "article"} == fake.live_article_ids()


def test_ticket_links_point_at_the_helpdesk_not_at_the_api_proxy() -> None:
    fake = FakeZendesk()
    opts = ZendeskConnector.Options(base_url="https://zendesk-proxy.corp.test",
                                    email="bot@acme.test", api_token="tok")
    proxied = ZendeskConnector("zd", opts, transport=httpx.MockTransport(fake),
                               sleep=lambda _: None)
    docs, _ = records(list(proxied.fetch(None)))
    assert docs[("ticket", "1")].url == f"{BASE}/agent/tickets/1"
    named = make(fake, agent_url="https://support.acme.test/")
    docs, _ = records(list(named.fetch(None)))
    assert docs[("ticket", "1")].url == "https://support.acme.test/agent/tickets/1"


# -- comments in bulk: the ticket events export ----------------------------------------------
def tickets_of(fake: FakeZendesk, checkpoint: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    pages = list(make(fake, include_articles=False).fetch(checkpoint))
    return {d.id: d for p in pages for d in p.documents}


def test_bulk_comments_give_the_same_tickets_as_per_ticket_pages() -> None:
    bulk, per_ticket = FakeZendesk(), FakeZendesk(comment_events=False)
    assert tickets_of(bulk) == tickets_of(per_ticket)  # bodies, authors, public flags, order
    assert not [c for c in bulk.calls if c[1].endswith("/comments")]


def big_desk(tickets: int) -> FakeZendesk:
    """`tickets` tickets, each a customer's question, an agent's answer and an internal note."""
    fake = FakeZendesk(per_page=100, events_per_page=1000)  # Zendesk's own page sizes
    fake.tickets, fake.comments = [], {}
    for n in range(tickets):
        ticket_id, customer, at = 1000 + n, 10_000 + n, T0 + 10 * n
        fake.tickets.append({"id": ticket_id, "subject": f"Question {n}", "status": "solved",
                             "requester_id": customer, "tags": [], "priority": None,
                             "created_at": iso(at), "updated_at": iso(at + 5),
                             "url": f"{BASE}/api/v2/tickets/{ticket_id}.json"})
        fake.comments[ticket_id] = [
            comment(10 * ticket_id, customer, f"question {n}", True, at),
            comment(10 * ticket_id + 1, 900, f"answer {n}", True, at + 1),
            comment(10 * ticket_id + 2, 900, f"{PRIVATE_NOTE} {n}", False, at + 2)]
        fake.users.append({"id": customer, "role": "end-user", "name": f"Customer {n}",
                           "email": f"c{n}@example.com"})
    return fake


def test_requests_for_n_tickets_drop_from_n_to_pages() -> None:
    n = 450
    bulk, per_ticket = big_desk(n), big_desk(n)
    per_ticket.comment_events = False
    assert tickets_of(bulk) == tickets_of(per_ticket)
    ticket_pages = sum(1 for c in bulk.calls if c[1].startswith("/api/v2/incremental/tickets"))
    assert ticket_pages == 5  # 450 tickets, 100 a page
    # Per ticket: a comment request each at least. In bulk: the export's pages (1,350 audits
    # and 450 status changes, 1,000 a page) and each ticket page's authors (100 a request:
    # 101 people on a page of 100 tickets, 51 on the last).
    asked = [c for c in per_ticket.calls if c[1].endswith("/comments")]
    assert len({c[1] for c in asked}) == n and len(asked) == 2 * n  # the fake pages by 2
    by_path = {path: sum(1 for c in bulk.calls if c[1] == path)
               for path in {c[1] for c in bulk.calls}}
    assert by_path == {"/api/v2/incremental/tickets/cursor.json": 5, EVENTS: 2,
                       "/api/v2/users/show_many.json": 9}
    assert len(bulk.calls) == 16


def test_an_account_without_the_export_reads_each_tickets_comments_and_warns_once() -> None:
    fake = FakeZendesk(comment_events=False)  # an agent's token: the export is for admins
    pages = list(make(fake).fetch(None))
    [warning] = [w for p in pages for w in p.warnings]
    assert "comments in bulk are off until a --full sync" in warning and "403" in warning
    assert {d.id for p in pages for d in p.documents if d.kind == "ticket"} == fake.ticket_ids(
        status_deleted=False)
    checkpoint = json.loads(json.dumps(pages[-1].checkpoint))
    assert checkpoint["comment_events_off"] == 403
    fake.calls.clear()
    fake.tickets.append({"id": 6, "subject": "New", "status": "open", "requester_id": 500,
                         "created_at": iso(T0 + 5000), "updated_at": iso(T0 + 5001)})
    fake.comments[6] = [comment(61, 500, "A new question", True, T0 + 5000)]
    again = list(make(fake).fetch(checkpoint))
    assert not [w for p in again for w in p.warnings]
    assert not [c for c in fake.calls if c[1] == EVENTS]  # not asked again, until --full
    assert [d.description for p in again for d in p.documents] == ["A new question"]
    fake.comment_events = True
    fake.calls.clear()
    assert tickets_of(fake) and [c for c in fake.calls if c[1] == EVENTS]


def test_a_failing_export_is_left_for_the_run_and_tickets_still_sync() -> None:
    fake = FakeZendesk(fail_at=frozenset(range(4, 10)))  # the export's first request: 503s
    pages = list(make(fake, include_articles=False).fetch(None))
    [warning] = [w for p in pages for w in p.warnings]
    assert "until the next run" in warning and "503" in warning
    assert "comment_events_off" not in (pages[-1].checkpoint or {})
    assert {d.id for p in pages for d in p.documents} == fake.ticket_ids(status_deleted=False)


def test_a_comment_made_private_later_stays_internal() -> None:
    fake = FakeZendesk()
    # An agent turned the public reply on ticket 1 into an internal note: the export keeps
    # the comment as written (public), the comment itself is now private.
    fake.later_events[1] = [{"event_type": "CommentPrivacyChange", "comment_id": 12,
                             "public": False}]
    fake.comments[1][1]["public"] = False
    refund = tickets_of(fake)["1"]
    assert [(c.body, c.public) for c in refund.comments] == [
        ("Refund issued", False), (PRIVATE_NOTE, False)]
    assert [c[1] for c in fake.calls if c[1].endswith("/comments")] == [
        "/api/v2/tickets/1/comments"] * 2  # its own pages, and only its


def test_without_the_side_load_comments_are_read_per_ticket() -> None:
    class IgnoresInclude(FakeZendesk):  # a proxy that drops the include parameter
        def events(self, comment_events: bool) -> list[dict[str, Any]]:
            return super().events(comment_events=False)

    fake = IgnoresInclude()
    assert tickets_of(fake) == tickets_of(FakeZendesk(comment_events=False))
    assert {c[1] for c in fake.calls if c[1].endswith("/comments")} == {
        f"/api/v2/tickets/{t}/comments" for t in (1, 2, 4, 5)}


def test_tickets_older_than_the_window_read_their_own_pages_on_resume() -> None:
    full = tickets_of(FakeZendesk())
    pages = list(make(FakeZendesk(), include_articles=False).fetch(None))
    for page in pages:  # from every checkpoint: the same tickets, with the same comments
        fake = FakeZendesk()
        checkpoint = json.loads(json.dumps(page.checkpoint))
        resumed = tickets_of(fake, checkpoint)
        assert resumed == {k: v for k, v in full.items() if k in resumed}
        window = checkpoint["events_start_time"]
        own = {c[1].split("/")[4] for c in fake.calls if c[1].endswith("/comments")}
        assert own == {t for t in resumed if parse(next(
            r["created_at"] for r in fake.tickets if str(r["id"]) == t)) < window}


def test_a_resumed_first_sync_still_reads_comments_in_bulk() -> None:
    pages = list(make(big_desk(450), include_articles=False).fetch(None))
    fake = big_desk(450)
    resumed = tickets_of(fake, json.loads(json.dumps(pages[1].checkpoint)))
    assert resumed == {k: v for k, v in tickets_of(big_desk(450)).items() if k in resumed}
    assert len(resumed) == 250
    # Only tickets created before the stream's position at the checkpoint read their own pages.
    assert len({c[1] for c in fake.calls if c[1].endswith("/comments")}) < 10


def test_a_second_with_more_events_than_a_page_is_stepped_over_not_looped_on() -> None:
    fake = FakeZendesk(events_per_page=1)  # every page repeats its own second: no progress
    assert tickets_of(fake) == tickets_of(FakeZendesk(comment_events=False))
    assert sum(1 for c in fake.calls if c[1] == EVENTS) < 60


def test_buffered_comments_are_bounded() -> None:
    fake = FakeZendesk()
    connector = make(fake, include_articles=False)
    connector.max_buffered_comments = 2
    bounded = {d.id: d for p in connector.fetch(None) for d in p.documents}
    assert bounded == tickets_of(FakeZendesk())
    assert [c for c in fake.calls if c[1].endswith("/comments")]  # some read their own pages


# -- write-back --------------------------------------------------------------------------------
def test_add_note_is_private_put() -> None:
    fake = FakeZendesk()
    make(fake).add_note("42", "Draft: try clearing cookies")
    assert fake.calls == [("PUT", "/api/v2/tickets/42.json", {},
                           {"ticket": {"comment": {"body": "Draft: try clearing cookies",
                                                   "public": False}}})]


def notes_on(fake: FakeZendesk, ticket: int) -> list[str]:
    return [c["body"] for c in fake.comments.get(ticket, []) if not c["public"]]


@pytest.mark.parametrize("lost", ["503", "drop"])
def test_a_note_whose_answer_is_lost_is_posted_once(lost: str) -> None:
    """Zendesk added the note, then the answer was lost: PUT again, it would be there twice."""
    fake = FakeZendesk()
    fake.lost_answers[1] = lost
    make(fake).add_note("1", "Draft: try clearing cookies")
    assert notes_on(fake, 1) == [PRIVATE_NOTE, "Draft: try clearing cookies"]
    assert [(m, p) for m, p, _, _ in fake.calls] == [
        ("PUT", "/api/v2/tickets/1.json"), ("GET", "/api/v2/tickets/1/comments"),
        ("GET", "/api/v2/tickets/1/comments")]  # found on the look-up: not sent again


def test_a_note_refused_before_it_was_written_is_sent_again() -> None:
    fake = FakeZendesk(fail_at=frozenset({1}))  # 503 before Zendesk did anything
    make(fake).add_note("4", "Draft: send the VIP welcome pack")
    assert notes_on(fake, 4) == [PRIVATE_FIRST, "Draft: send the VIP welcome pack"]
    assert [m for m, _, _, _ in fake.calls] == ["PUT", "GET", "PUT"]


def test_a_note_the_helpdesk_refuses_is_an_error_at_once() -> None:
    fake = FakeZendesk()
    fake.missing.add("/api/v2/tickets/999.json")
    with pytest.raises(deskpilot.HelpdeskError, match="404"):
        make(fake).add_note("999", "Draft")
    assert len(fake.calls) == 1


def test_add_tags_adds_with_put() -> None:
    fake = FakeZendesk()
    make(fake).add_tags("42", ["billing", "refund"])
    assert fake.calls == [("PUT", "/api/v2/tickets/42/tags", {}, {"tags": ["billing", "refund"]})]


def test_create_ticket_posts_transcript_requester_and_tags() -> None:
    fake = FakeZendesk(fail_at=frozenset({1}))  # the POST is retried: it carries an idempotency key
    request = EscalationRequest(subject="Refund stuck", transcript="user: where is my refund?",
                                customer_id="c1", customer_email="ann@example.com",
                                customer_name="Ann", triage={"priority": "high",
                                                             "tags": ["billing"]})
    assert make(fake).create_ticket(request) == "777"
    method, path, _, body = fake.calls[-1]
    assert (method, path) == ("POST", "/api/v2/tickets.json") and len(fake.calls) == 2
    assert body == {"ticket": {
        "subject": "Refund stuck",
        "comment": {"body": "user: where is my refund?", "public": False},
        "requester": {"email": "ann@example.com", "name": "Ann"},
        "tags": ["billing", "deskpilot_escalation"], "priority": "high"}}


def test_tag_vocabulary_follows_cursor() -> None:
    assert make(FakeZendesk()).tag_vocabulary() == [f"tag{k}" for k in range(5)]


# -- webhooks ----------------------------------------------------------------------------------
def signed(body: bytes, secret: str = "whsec", at: datetime | None = None) -> dict[str, str]:
    return zendesk_signed(body, secret, at)


def test_webhook_signatures() -> None:
    connector, body = make(FakeZendesk()), b'{"type":"zen:event-type:ticket.created"}'
    assert connector.verify_webhook(signed(body), body)
    lower = {k.lower(): v for k, v in signed(body).items()}
    assert connector.verify_webhook(lower, body)
    assert not connector.verify_webhook(signed(body, secret="wrong"), body)
    assert not connector.verify_webhook(signed(body), body + b" ")
    stale = datetime.now(UTC) - timedelta(minutes=6)
    assert not connector.verify_webhook(signed(body, at=stale), body)
    assert not connector.verify_webhook({}, body)


def test_options_require_a_site_and_credentials() -> None:
    with pytest.raises(ValueError, match="subdomain"):
        ZendeskConnector.Options(email="a@b.c", api_token="t")
    with pytest.raises(ValueError, match="api_token"):
        ZendeskConnector.Options(subdomain="acme")
    opts = ZendeskConnector.Options(subdomain="acme", oauth_token="o")
    assert opts.url == "https://acme.zendesk.com"


def test_oauth_token_is_sent_as_bearer() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200, json={"tags": [], "meta": {"has_more": False}})

    opts = ZendeskConnector.Options(base_url=BASE, oauth_token="oauth-xyz")
    ZendeskConnector("zd", opts, transport=httpx.MockTransport(handler)).tag_vocabulary()
    assert seen == ["Bearer oauth-xyz"]


def test_registered_through_the_hook() -> None:
    from deskpilot.connectors import zendesk

    registered: list[type[Connector]] = []
    zendesk.register_connectors(registered.append)
    assert registered == [ZendeskConnector]
    assert ZendeskConnector.from_config("zd", {"subdomain": "acme", "oauth_token": "o"})


class TestZendeskContract(ConnectorContract):
    @pytest.fixture
    def connector(self) -> ZendeskConnector:
        return make(FakeZendesk(throttle_every=3))

    @pytest.fixture
    def private_comment_bodies(self) -> list[str]:
        return [PRIVATE_NOTE, PRIVATE_FIRST]

    @pytest.fixture
    def failing_document(self) -> tuple[ZendeskConnector, DocumentRef]:
        fake = FakeZendesk(throttle_every=3)
        # No events export on this account (404): ticket 4's own comment pages, and they fail.
        fake.missing |= {EVENTS, "/api/v2/tickets/4/comments"}
        return make(fake), DocumentRef(kind=DocumentKind.TICKET, id="4")

