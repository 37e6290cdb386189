"""Zendesk: Help Center articles and Support tickets in, notes, tags and tickets out.

Both streams are Zendesk's incremental exports, so a sync reads only what changed:
- articles: `GET /api/v2/help_center/incremental/articles?start_time=`, the previous response's
  `end_time` being the next `start_time` (the endpoint takes no locale: the `locales` option
  filters the articles it returns). `start_time` is inclusive, so the articles updated at
  exactly that second were already synced: their ids are kept (`articles_edge`) and skipped
  unless they changed again. An account without Help Center (404, 403) has that stream turned
  off with one warning, until a `--full` sync;
- tickets: `GET /api/v2/incremental/tickets/cursor.json`, `start_time` once, then `cursor`, until
  `end_of_stream`; the last `after_cursor` is where the next sync starts. Comments come in bulk
  from the ticket events export (`zendesk_events`: a request per 1,000 ticket updates, authors
  by `users/show_many`, 100 a request), where the stream holds the ticket's whole history; else,
  and on an account that refuses the export (403, 404: it is for admins), from the ticket's own
  cursor-paginated comments. Internal notes are kept as `public=False` either way. The names
  of the organisations the customers belong to (`organizations/show_many`, each once a sync)
  come with them, for answer snippets to remove; an agent's is the support company's own.

Every page carries the checkpoint reached after it, so an interrupted sync resumes exactly there.
A ticket whose comments cannot be read is a failure of that ticket only (`refetch` retries it);
a failed events export turns the bulk path off for the run (for good on a 403/404, until a
`--full` sync) with one warning, and tickets still sync.
Ticket links point at the helpdesk itself (`agent_url`, else the subdomain, else the host in the
API's own `url` field), never at a proxy in `base_url`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import SecretStr, model_validator

import deskpilot
from deskpilot import (
    Article,
    Audience,
    Capability,
    Comment,
    ConnectorOptions,
    CustomerMessage,
    DocumentKind,
    DocumentRef,
    EscalationRequest,
    HelpdeskError,
    HttpConnector,
    Person,
    SyncPage,
    Ticket,
    TicketConversation,
    TicketMessage,
)
from deskpilot.connectors.zendesk_events import CommentEvents

WEBHOOK_TOLERANCE_SECONDS = 300
# A comment write that may have landed: how often it is tried, and how recent a matching
# comment must be to count as the one sent.
_WRITE_ATTEMPTS = 3
_WRITE_WINDOW = timedelta(minutes=15)
# A ticket's raw comments, oldest first, and the users they name (id -> user record).
TicketComments = tuple[list[dict[str, Any]], dict[Any, dict[str, Any]]]
_PRIORITIES = frozenset({"low", "normal", "high", "urgent"})
# Zendesk's ticket statuses in the relay's words: "hold" waits on a third party, not on us.
_RELAY_STATUS = {"new": "open", "open": "open", "pending": "pending", "hold": "open",
                 "solved": "solved", "closed": "closed"}


class ZendeskOptions(ConnectorOptions):
    subdomain: str | None = None
    base_url: str | None = None  # instead of subdomain: a proxy, or a fake in tests
    # Where agents open tickets (links in drafts and search results); default: the subdomain's
    # site, else the host Zendesk names in its API answers.
    agent_url: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    locales: list[str] = []  # empty: every locale
    start_time: int = 0  # epoch seconds the first sync starts from
    include_articles: bool = True
    include_tickets: bool = True
    # Comments in bulk from the ticket events export (admins only); False: per ticket.
    comment_events: bool = True
    webhook_secret: SecretStr | None = None
    tags_on_escalation: list[str] = ["deskpilot_escalation"]

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not (self.subdomain or self.base_url):
            raise ValueError("set subdomain (or base_url)")
        if not (self.oauth_token or (self.email and self.api_token)):
            raise ValueError("set email and api_token, or oauth_token")
        return self

    @property
    def url(self) -> str:
        return (self.base_url or f"https://{self.subdomain}.zendesk.com").rstrip("/")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _show_many(get: Callable[..., Any], resource: str, ids: set[Any]) -> list[dict[str, Any]]:
    """The `resource` records ("users", "organizations") with these ids, 100 a request (what
    Zendesk's show_many takes)."""
    records: list[dict[str, Any]] = []
    wanted = sorted(ids - {None, -1}, key=str)
    for start in range(0, len(wanted), 100):
        batch = ",".join(str(i) for i in wanted[start : start + 100])
        records.extend(get(f"/api/v2/{resource}/show_many.json", {"ids": batch})
                       .get(resource, []))
    return records


class _Organizations:
    """Organisation names by id over one sync run, each id asked for once. A token that may
    not read organisations (403, 404) is told so once, and tickets sync without them."""

    def __init__(self, get: Callable[..., Any]) -> None:
        self._get = get
        self._names: dict[Any, str | None] = {}
        self._refused = False

    def names(self, ids: set[Any], warnings: list[str]) -> Mapping[Any, str | None]:
        wanted = ids - set(self._names) - {None}
        if wanted and not self._refused:
            try:
                found = _show_many(self._get, "organizations", wanted)
            except HelpdeskError as exc:
                if exc.status not in (403, 404):
                    raise
                self._refused = True
                warnings.append(f"organisation names are off for this sync ({exc.status}: "
                                f"{exc.message}): answer snippets cannot remove them")
            else:
                self._names |= dict.fromkeys(wanted) | {o["id"]: o.get("name") for o in found}
        return self._names


class ZendeskConnector(HttpConnector):
    type: ClassVar[str] = "zendesk"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.NOTES, Capability.TAGS, Capability.TICKETS, Capability.WEBHOOKS,
         Capability.RELAY}
    )
    Options = ZendeskOptions
    options: ZendeskOptions
    #: Comments the events stream keeps for tickets not listed yet (see zendesk_events).
    max_buffered_comments: int = 50_000

    def base_url(self) -> str:
        return self.options.url

    def auth(self) -> tuple[str, str] | None:
        if self.options.oauth_token:
            return None
        assert self.options.email and self.options.api_token  # the options' validator
        return (f"{self.options.email}/token", self.options.api_token.get_secret_value())

    def headers(self) -> dict[str, str]:
        if self.options.oauth_token:
            return {"Authorization": f"Bearer {self.options.oauth_token.get_secret_value()}"}
        return {}

    # -- reading ----------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.request_json("GET", path, params=params) or {}

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        state: dict[str, Any] = {
            "articles_start_time": self.options.start_time,
            "articles_edge": [],
            "tickets_cursor": None,
            **(checkpoint or {}),
        }
        if self.options.include_articles and not state.get("articles_off"):
            yield from self._article_pages(state)
        if self.options.include_tickets:
            yield from self._ticket_pages(state)

    def _article_pages(self, state: dict[str, Any]) -> Iterator[SyncPage]:
        locales = {locale.lower() for locale in self.options.locales}
        while True:
            start = state["articles_start_time"]
            try:
                data = self._get("/api/v2/help_center/incremental/articles",
                                 {"start_time": start})
            except HelpdeskError as exc:
                if exc.status not in (403, 404):
                    raise
                # No Help Center on this account (or no right to read it): tickets still sync.
                state["articles_off"] = exc.status
                yield SyncPage(checkpoint=dict(state), warnings=[
                    f"articles are off: {exc.message}; a --full sync tries them again"])
                return
            edge = set(state.get("articles_edge") or [])
            articles, end, at_end = [], start, []
            for raw in data.get("articles", []):
                article_id, updated = str(raw["id"]), self._epoch(raw.get("updated_at"))
                if updated == start and article_id in edge:
                    continue  # the inclusive start_time lists it again: already synced
                if not locales or raw.get("locale", "").lower() in locales:
                    articles.append(self._article(raw))
                if updated > end:
                    end, at_end = updated, [article_id]
                elif updated == end:
                    at_end.append(article_id)
            if (end_time := int(data.get("end_time") or start)) > end:
                end, at_end = end_time, []
            state["articles_start_time"] = end
            state["articles_edge"] = sorted(at_end + (list(edge) if end == start else []))
            yield SyncPage(documents=articles, checkpoint=dict(state))
            # No next page, or no progress (nothing changed since start): caught up.
            if not data.get("next_page") or end == start:
                return

    @staticmethod
    def _epoch(value: str | None) -> int:
        moment = parse_time(value)
        return int(moment.timestamp()) if moment else 0

    def _article(self, raw: dict[str, Any]) -> Article:
        return Article(
            id=str(raw["id"]),
            title=raw.get("title") or "",
            body_html=raw.get("body") or "",
            url=raw.get("html_url"),
            locale=raw.get("locale") or "en",
            updated_at=parse_time(raw.get("updated_at")),
            # Articles restricted to a user segment are not for every customer: keep them
            # internal rather than risk showing agent-only content in the public chat.
            audience=Audience.INTERNAL if raw.get("user_segment_id") else Audience.PUBLIC,
            published=not raw.get("draft", False),
        )

    def _ticket_pages(self, state: dict[str, Any]) -> Iterator[SyncPage]:
        events, organizations = None, _Organizations(self._get)
        if self.options.comment_events and not state.get("comment_events_off"):
            events = CommentEvents(self._get,
                                   state.get("events_start_time", self.options.start_time),
                                   max_buffered=self.max_buffered_comments)
        while True:
            cursor = state["tickets_cursor"]
            params = {"cursor": cursor} if cursor else {"start_time": self.options.start_time}
            data = self._get("/api/v2/incremental/tickets/cursor.json", params)
            page = SyncPage()
            listed = data.get("tickets", [])
            bulk: dict[str, TicketComments] = {}
            if events is not None:
                try:
                    bulk = self._bulk_comments(events, listed)
                except HelpdeskError as exc:
                    events = None
                    if exc.status in (403, 404):  # not for this account (or this token)
                        state["comment_events_off"] = exc.status
                    until = "a --full sync" if exc.status in (403, 404) else "the next run"
                    page.warnings.append(f"comments in bulk are off until {until}: "
                                         f"{exc.message}; each ticket's comments are read "
                                         "on their own")
                else:
                    state["events_start_time"] = events.resume_at
            self._add_tickets(page, listed, organizations, bulk)
            # Kept after end_of_stream too: the next sync continues from this cursor.
            state["tickets_cursor"] = data.get("after_cursor") or cursor
            page.checkpoint = dict(state)
            yield page
            if data.get("end_of_stream") or not data.get("after_cursor"):
                return

    def _bulk_comments(self, events: CommentEvents, listed: list[dict[str, Any]]
                       ) -> dict[str, TicketComments]:
        """For the listed tickets whose history the events stream holds: (comments, users)."""
        found = events.comments_for([t for t in listed if t.get("status") != "deleted"])
        requesters = {str(t["id"]): t.get("requester_id") for t in listed}
        named = {c.get("author_id") for comments in found.values() for c in comments}
        named |= {requesters[ticket_id] for ticket_id in found}
        users = self._users(named)
        return {ticket_id: (comments, users) for ticket_id, comments in found.items()}

    def _users(self, ids: set[Any]) -> dict[Any, dict[str, Any]]:
        return {user["id"]: user for user in _show_many(self._get, "users", ids)}

    def _add_tickets(self, page: SyncPage, listed: list[dict[str, Any]],
                     organizations: _Organizations,
                     bulk: Mapping[str, TicketComments] | None = None) -> None:
        """The listed tickets onto `page`: deleted ones as such, a ticket whose comments
        cannot be read as a failure of that ticket only; the rest with their people, and the
        organisations they belong to, known (answer snippets remove them)."""
        read: list[tuple[dict[str, Any], TicketComments]] = []
        for raw in listed:
            ref = DocumentRef(kind=DocumentKind.TICKET, id=str(raw["id"]))
            if raw.get("status") == "deleted":
                page.deleted.append(ref)
                continue
            try:
                read.append((raw, (bulk or {}).get(ref.id) or self._comment_pages(ref.id)))
            except HelpdeskError as exc:
                page.failures.append(self.failure(ref, exc))
        named = {raw.get("organization_id") for raw, _ in read}
        named |= {user.get("organization_id") for raw, (_, users) in read
                  for user_id, user in users.items()
                  if self._is_customer(user_id, user, raw.get("requester_id"))}
        names = organizations.names(named, page.warnings)
        page.documents.extend(self._ticket(raw, comments, users, names)
                              for raw, (comments, users) in read)

    def refetch_document(self, ref: DocumentRef, page: SyncPage) -> None:
        if ref.kind == DocumentKind.TICKET:
            data = self._get(f"/api/v2/tickets/{ref.id}.json")
            self._add_tickets(page, [data.get("ticket") or {"id": ref.id, "status": "deleted"}],
                              _Organizations(self._get))
        else:
            data = self._get(f"/api/v2/help_center/articles/{ref.id}")
            page.documents.append(self._article(data["article"]))

    def _comment_pages(self, ticket_id: str
                       ) -> TicketComments:
        """The ticket's comments, oldest first, from its own cursor-paginated pages, and the
        users they name (id -> user)."""
        comments: list[dict[str, Any]] = []
        users: dict[Any, dict[str, Any]] = {}
        params: dict[str, Any] = {"page[size]": 100, "include": "users"}
        while True:
            data = self._get(f"/api/v2/tickets/{ticket_id}/comments", params)
            users.update({user["id"]: user for user in data.get("users", [])})
            comments.extend(data.get("comments", []))
            meta = data.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return comments, users
            params = {**params, "page[after]": meta["after_cursor"]}

    @staticmethod
    def _is_customer(user_id: Any, user: dict[str, Any] | None, requester_id: Any) -> bool:
        role = (user or {}).get("role")
        return role == "end-user" or (role is None and user_id == requester_id)

    @classmethod
    def _author_role(cls, author: Any, user: dict[str, Any] | None, requester_id: Any
                     ) -> Literal["customer", "agent", "system"]:
        if author == -1:  # Zendesk's own system user
            return "system"
        return "customer" if cls._is_customer(author, user, requester_id) else "agent"

    def _ticket(self, raw: dict[str, Any], raw_comments: list[dict[str, Any]],
                users: dict[Any, dict[str, Any]], organizations: Mapping[Any, str | None]
                ) -> Ticket:
        ticket_id = str(raw["id"])
        requester_id = raw.get("requester_id")
        # A customer's organisation, not an agent's: that is the support company's own name,
        # which an answer snippet may well need to say.
        people = {user_id: Person(
            name=user.get("name"), email=user.get("email"),
            organization=organizations.get(user.get("organization_id"))
            if self._is_customer(user_id, user, requester_id) else None)
            for user_id, user in users.items()}
        # The ticket's own organisation is the requester's for this ticket, when their user
        # record names none (or another: a person in several organisations).
        if ticket_organization := organizations.get(raw.get("organization_id")):
            requester = people.get(requester_id) or Person()
            people[requester_id] = requester.model_copy(
                update={"organization": ticket_organization})
        comments = [Comment(
            author_role=self._author_role(c.get("author_id"), users.get(c.get("author_id")),
                                          requester_id),
            author=people.get(c.get("author_id")),
            body=c.get("plain_body") or c.get("body") or "",
            public=bool(c.get("public", False)),  # missing flag: assume internal
            created_at=parse_time(c.get("created_at")),
        ) for c in raw_comments]
        # Zendesk's `description` is the first comment, which an agent may have made private:
        # use it only when it is public, and then do not repeat it among the comments.
        description = ""
        if comments and comments[0].public:
            description = comments.pop(0).body
        return Ticket(
            id=ticket_id,
            subject=raw.get("subject") or raw.get("raw_subject") or "",
            description=description,
            comments=comments,
            tags=list(raw.get("tags") or []),
            status=raw.get("status") or "open",
            priority=raw.get("priority"),
            url=f"{self._agent_site(raw)}/agent/tickets/{ticket_id}",
            updated_at=parse_time(raw.get("updated_at")),
            requester=people.get(requester_id),
        )

    def _agent_site(self, raw: dict[str, Any]) -> str:
        if self.options.agent_url:
            return self.options.agent_url.rstrip("/")
        if self.options.subdomain:
            return f"https://{self.options.subdomain}.zendesk.com"
        api = urlsplit(raw.get("url") or "")  # Zendesk's own URL for the ticket's API record
        return f"{api.scheme}://{api.netloc}" if api.scheme and api.netloc else self.options.url

    def tag_vocabulary(self) -> list[str]:
        names: list[str] = []
        params: dict[str, Any] = {"page[size]": 100}
        while True:
            data = self._get("/api/v2/tags", params)
            names.extend(tag["name"] for tag in data.get("tags", []))
            meta = data.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                return names
            params = {"page[size]": 100, "page[after]": meta["after_cursor"]}

    # -- writing ----------------------------------------------------------------------------
    def add_note(self, ticket_id: str, body: str) -> None:
        def posted() -> str | None:  # the same note, just now: the PUT did land
            since = datetime.now(UTC) - _WRITE_WINDOW
            return next((m.id for m in self._relay_comments(ticket_id, None)
                         if not m.public and m.body.strip() == body.strip()
                         and (m.created_at is None or m.created_at >= since)), None)

        self._put_comment(ticket_id, {"body": body, "public": False}, posted)

    def _put_comment(self, ticket_id: str, comment: dict[str, Any],
                     posted: Callable[[], str | None]) -> str:
        """Add `comment` to the ticket; returns its id (may be "" when Zendesk does not say).

        Zendesk honours no idempotency key on ticket updates, and a comment PUT twice is there
        twice: so the PUT is never repeated blindly. After an answer that may have come after
        Zendesk acted (a 5xx, a dropped connection, a garbled 2xx), `posted` looks for the
        comment on the ticket, and only if it is not there is the PUT sent again."""
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                data = self.request_json("PUT", f"/api/v2/tickets/{ticket_id}.json",
                                         json={"ticket": {"comment": comment}},
                                         retry_safe=False) or {}
            except HelpdeskError as exc:
                refused = exc.status is not None and 400 <= exc.status < 500  # nothing written
                if refused or attempt == _WRITE_ATTEMPTS:
                    raise
                # The look-up is a GET: the client's retries give a failing server its pauses.
                if (found := posted()) is not None:
                    return found
                continue
            events = (data.get("audit") or {}).get("events") or []
            return next((str(e["id"]) for e in events if e.get("type") == "Comment"), "")
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        # PUT adds to the ticket's tags; POST would replace them.
        self.http.put(f"/api/v2/tickets/{ticket_id}/tags", json={"tags": tags}).raise_for_status()

    def create_ticket(self, request: EscalationRequest) -> str:
        ticket: dict[str, Any] = {
            "subject": request.subject,
            # Private: the customer has just seen this conversation; the agent needs it.
            "comment": {"body": request.transcript, "public": False},
            "tags": sorted({*self.options.tags_on_escalation, *request.triage.get("tags", [])}),
        }
        if request.customer_email:
            ticket["requester"] = {
                "email": request.customer_email,
                "name": request.customer_name or request.customer_email,
            }
        else:
            # An end-user of its own even without an address: else the requester is the API's
            # agent, and the customer's relayed messages would read as the agent's replies.
            ticket["requester"] = {"name": request.customer_name or "Chat visitor"}
        if request.triage.get("priority") in _PRIORITIES:
            ticket["priority"] = request.triage["priority"]
        # Zendesk honours Idempotency-Key on ticket creation, which makes the POST safe to retry.
        key_source = f"{request.thread_id or request.customer_id}\n{request.subject}\n"
        key = hashlib.sha256((key_source + request.transcript).encode()).hexdigest()
        response = self.http.post(
            "/api/v2/tickets.json",
            json={"ticket": ticket},
            headers={"Idempotency-Key": key},
            extensions=deskpilot.RETRY_SAFE,
        )
        response.raise_for_status()
        return str(response.json()["ticket"]["id"])

    # -- relay ------------------------------------------------------------------------------
    def _relay_comments(self, ticket_id: str, requester_id: Any) -> list[TicketMessage]:
        comments, users = self._comment_pages(ticket_id)
        messages: list[TicketMessage] = []
        for raw in comments:
            author = raw.get("author_id")
            user = users.get(author) or {}
            # The requester is the customer whatever their role: the relay writes as them.
            role: Literal["customer", "agent", "system"] = (
                "system" if author == -1
                else "customer" if author == requester_id or user.get("role") == "end-user"
                else "agent")
            messages.append(TicketMessage(
                id=str(raw["id"]), author_role=role, author_name=user.get("name"),
                body=raw.get("plain_body") or raw.get("body") or "",
                public=bool(raw.get("public", False)),  # missing flag: assume internal
                created_at=parse_time(raw.get("created_at")),
            ))
        return messages

    def conversation(self, ticket_id: str, webhook: Mapping[str, Any] | None = None
                     ) -> TicketConversation:
        # The webhook only says the ticket changed: the API has the comments, authors' names
        # and the status, in order.
        ticket = self._get(f"/api/v2/tickets/{ticket_id}.json").get("ticket") or {}
        return TicketConversation(
            ticket_id=ticket_id, status=_RELAY_STATUS.get(ticket.get("status") or "", "open"),
            messages=self._relay_comments(ticket_id, ticket.get("requester_id")))

    def add_customer_message(self, ticket_id: str, message: CustomerMessage) -> str:
        ticket = self._get(f"/api/v2/tickets/{ticket_id}.json").get("ticket") or {}
        requester = ticket.get("requester_id")

        def earlier(ticket_id: str, requester: Any) -> str | None:
            return next((m.id for m in self._relay_comments(ticket_id, requester)
                         if m.author_role == "customer" and m.public
                         and m.body.strip() == message.body.strip()
                         and (message.created_at is None or m.created_at is None
                              or m.created_at >= message.created_at - timedelta(minutes=1))),
                        None)

        # Zendesk takes no idempotency key on updates: a retry first looks for its comment.
        if (found := earlier(ticket_id, requester)) is not None:
            return found
        comment: dict[str, Any] = {"body": message.body, "public": True}
        if requester is not None:
            comment["author_id"] = requester
        return self._put_comment(ticket_id, comment, lambda: earlier(ticket_id, requester))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if self.options.webhook_secret is None:
            return False
        lower = {k.lower(): v for k, v in headers.items()}
        signature = lower.get("x-zendesk-webhook-signature")
        timestamp = lower.get("x-zendesk-webhook-signature-timestamp")
        if not signature or not timestamp:
            return False
        try:
            sent_at = parse_time(timestamp)
        except ValueError:
            return False
        if sent_at is None or abs(time.time() - sent_at.timestamp()) > WEBHOOK_TOLERANCE_SECONDS:
            return False  # a replay of an old (or a forged future) delivery
        secret = self.options.webhook_secret.get_secret_value().encode()
        digest = hmac.new(secret, timestamp.encode() + body, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), signature)

    def signed_webhook_content(self, headers: Mapping[str, str], body: bytes) -> bytes:
        lower = {k.lower(): v for k, v in headers.items()}
        return lower.get("x-zendesk-webhook-signature-timestamp", "").encode() + body


@deskpilot.hookimpl
def register_connectors(register: Any) -> None:
    register(ZendeskConnector)
