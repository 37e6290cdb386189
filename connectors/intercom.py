"""Intercom: Help Center articles and conversations in, notes, tags and escalations out.

- articles: `GET /articles` (page-numbered); Intercom cannot filter them by date, so every sync
  lists them and keeps those changed since the last one; `state: "draft"` is unpublished.
- conversations: `POST /conversations/search` on `updated_at`, cursor-paginated
  (`starting_after`), parts from `GET /conversations/{id}` (Intercom returns at most 500 parts);
  notes become `Comment(public=False)`. The customer's company, for answer snippets to remove,
  from `GET /contacts/{id}/companies`, once per contact a sync (a token that may not list
  companies: one warning, and conversations sync without them).

A conversation that cannot be read is a failure of that conversation only (`refetch` retries it);
a workspace without Help Center (404, 403 on `/articles`) has that stream turned off with one
warning, until a `--full` sync.

Intercom timestamps are whole seconds, so "changed since" must include the last synced second
(something may have changed in it after we looked): the checkpoint keeps that second and the ids
already synced in it (`edge`), which are skipped unless they changed again.

Escalation (`create_ticket`): Deskpilot's chat is not an Intercom conversation, so by default a
conversation is opened on behalf of the customer (found or created by email) with the transcript,
then assigned to `escalation_assignee_id`. When triage carries `intercom_conversation_id` (the
chat came from Intercom), that conversation is assigned instead and the transcript is left as a
note. Either way the conversation id is returned.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

import deskpilot
from deskpilot import (
    Article,
    Capability,
    Comment,
    ConnectorOptions,
    CustomerMessage,
    DocumentKind,
    DocumentRef,
    EscalationRequest,
    HelpdeskError,
    HttpConnector,
    NotSupported,
    Person,
    SyncPage,
    Ticket,
    TicketConversation,
    TicketMessage,
)

HOSTS = {"us": "https://api.intercom.io", "eu": "https://api.eu.intercom.io",
         "au": "https://api.au.intercom.io"}
# Part types a customer sees; anything else with a body (notes, assignments, unknown new
# types) is treated as internal, so a type Intercom adds later cannot leak.
PUBLIC_PARTS = frozenset({"comment", "open", "close"})
AUTHOR_ROLES = {"admin": "agent", "team": "agent", "bot": "system", "user": "customer",
                "lead": "customer", "contact": "customer"}
STATUSES = {"open": "open", "snoozed": "pending", "closed": "solved"}
# Authors that are Intercom contacts (customers), whose companies Intercom lists.
CONTACT_TYPES = frozenset({"user", "lead", "contact"})


class IntercomOptions(ConnectorOptions):
    access_token: SecretStr
    intercom_version: str = "2.11"
    region: Literal["us", "eu", "au"] = "us"
    base_url: str | None = None  # overrides region: a proxy, or a fake in tests
    admin_id: str | None = None  # the teammate notes, tags and assignments are made as
    escalation_assignee_id: str | None = None  # team or admin that escalations go to
    client_secret: SecretStr | None = None  # the app's client secret, signs webhooks
    updated_since: int = 0  # epoch seconds the first sync starts from
    include_articles: bool = True
    include_conversations: bool = True
    per_page: int = Field(150, ge=1, le=150)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in {"p", "br", "div", "li"}:
            self.parts.append("\n")


def strip_html(html: str | None) -> str:
    parser = _Text()
    parser.feed(html or "")
    parser.close()
    return "\n".join(line.strip() for line in "".join(parser.parts).splitlines()
                     if line.strip())


def _person(author: dict[str, Any] | None) -> Person | None:
    """An Intercom author (admin, user, lead, bot) as a Person, if it names anyone."""
    if not author or not (author.get("name") or author.get("email")):
        return None
    return Person(name=author.get("name") or None, email=author.get("email") or None)


def _epoch(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


# Intercom's conversation states in the relay's words.
_RELAY_STATUS = {"open": "open", "snoozed": "pending", "closed": "solved"}


def _message(part: dict[str, Any]) -> TicketMessage:
    author = part.get("author") or {}
    return TicketMessage(
        id=str(part["id"]), author_role=AUTHOR_ROLES.get(author.get("type"), "agent"),
        author_name=author.get("name"), body=strip_html(part.get("body")),
        # Notes and any part type a customer does not see stay internal.
        public=part.get("part_type") in PUBLIC_PARTS,
        created_at=_epoch(part.get("created_at")))


class _Window:
    """One stream's progress in the checkpoint: synced up to second `since` (ids in `edge`
    synced at exactly `since`), plus where the current pass is and the newest second it saw."""

    def __init__(self, state: dict[str, Any], start: int) -> None:
        self.state = state
        state.setdefault("since", start)
        state.setdefault("edge", [])
        state.setdefault("seen_max", state["since"])
        state.setdefault("seen_edge", list(state["edge"]))

    def is_new(self, item_id: str, updated: int) -> bool:
        since = self.state["since"]
        return updated > since or (updated == since and item_id not in self.state["edge"])

    def saw(self, item_id: str, updated: int) -> None:
        if updated > self.state["seen_max"]:
            self.state["seen_max"], self.state["seen_edge"] = updated, [item_id]
        elif updated == self.state["seen_max"] and item_id not in self.state["seen_edge"]:
            self.state["seen_edge"].append(item_id)

    def finish(self, position_key: str) -> None:
        self.state.update(since=self.state["seen_max"], edge=list(self.state["seen_edge"]))
        self.state[position_key] = None


class IntercomConnector(HttpConnector):
    type: ClassVar[str] = "intercom"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.NOTES, Capability.TAGS, Capability.TICKETS, Capability.WEBHOOKS,
         Capability.RELAY}
    )
    Options = IntercomOptions
    options: IntercomOptions

    def __init__(self, name: str, options: IntercomOptions, **seams: Any) -> None:
        super().__init__(name, options, **seams)
        self._tag_ids: dict[str, str] = {}
        # A customer's company by contact id, asked for once a sync (`_company_of`); the
        # status of a refusal to list companies (a token without that scope), told once.
        self._companies: dict[str, str | None] = {}
        self._companies_refused: int | None = None
        self._refusal_told = False

    def base_url(self) -> str:
        return (self.options.base_url or HOSTS[self.options.region]).rstrip("/")

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.options.access_token.get_secret_value()}",
            # Pinned: an unversioned call gets whatever version the app defaults to.
            "Intercom-Version": self.options.intercom_version,
        }

    def _call(self, method: str, path: str, *, retry_safe: bool = False, **kwargs: Any
              ) -> dict[str, Any]:
        return self.request_json(method, path, retry_safe=retry_safe, **kwargs) or {}

    # -- reading ----------------------------------------------------------------------------
    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        self._companies, self._companies_refused, self._refusal_told = {}, None, False
        state: dict[str, Any] = {"articles": {}, "conversations": {}}
        for key, value in (checkpoint or {}).items():
            state[key] = dict(value)
        if self.options.include_articles and not state["articles"].get("off"):
            yield from self._article_pages(state)
        if self.options.include_conversations:
            yield from self._conversation_pages(state)

    def _article_pages(self, state: dict[str, Any]) -> Iterator[SyncPage]:
        window = _Window(state["articles"], self.options.updated_since)
        page = state["articles"].get("page") or 1
        while True:
            try:
                data = self._call("GET", "/articles",
                                  params={"page": page, "per_page": self.options.per_page})
            except HelpdeskError as exc:
                if exc.status not in (403, 404):
                    raise
                # No Help Center in this workspace (or no right to read it).
                state["articles"]["off"] = exc.status
                yield SyncPage(checkpoint=copy.deepcopy(state), warnings=[
                    f"articles are off: {exc.message}; a --full sync tries them again"])
                return
            articles = []
            for raw in data.get("data", []):
                article_id, updated = str(raw["id"]), int(raw.get("updated_at") or 0)
                if window.is_new(article_id, updated):
                    articles.append(self._article(raw))
                window.saw(article_id, updated)
            pages = data.get("pages") or {}
            if page >= int(pages.get("total_pages") or 1):
                window.finish("page")
                yield SyncPage(documents=articles, checkpoint=copy.deepcopy(state))
                return
            page += 1
            state["articles"]["page"] = page
            yield SyncPage(documents=articles, checkpoint=copy.deepcopy(state))

    def _article(self, raw: dict[str, Any]) -> Article:
        return Article(
            id=str(raw["id"]),
            title=raw.get("title") or "",
            body_html=raw.get("body") or "",
            url=raw.get("url"),
            locale=raw.get("default_locale") or "en",
            updated_at=_epoch(raw.get("updated_at")),
            published=raw.get("state") != "draft",
        )

    def _conversation_pages(self, state: dict[str, Any]) -> Iterator[SyncPage]:
        window = _Window(state["conversations"], self.options.updated_since)
        # `>` on the second before `since`: the edge second is included, its synced ids skipped.
        after = max(state["conversations"]["since"] - 1, 0)
        while True:
            pagination: dict[str, Any] = {"per_page": self.options.per_page}
            if cursor := state["conversations"].get("starting_after"):
                pagination["starting_after"] = cursor
            query = {"query": {"field": "updated_at", "operator": ">", "value": after},
                     "pagination": pagination}
            data = self._call("POST", "/conversations/search", json=query, retry_safe=True)
            result = SyncPage()
            for raw in data.get("conversations", []):
                conversation_id, updated = str(raw["id"]), int(raw.get("updated_at") or 0)
                if window.is_new(conversation_id, updated):
                    self._add_ticket(result, conversation_id)
                window.saw(conversation_id, updated)
            following = ((data.get("pages") or {}).get("next") or {}).get("starting_after")
            if not following:
                window.finish("starting_after")
                result.checkpoint = copy.deepcopy(state)
                yield result
                return
            state["conversations"]["starting_after"] = following
            result.checkpoint = copy.deepcopy(state)
            yield result

    def _add_ticket(self, page: SyncPage, conversation_id: str, *,
                    missing_is_gone: bool = False) -> None:
        try:
            page.documents.append(self._ticket(conversation_id))
            if self._companies_refused and not self._refusal_told:
                self._refusal_told = True
                page.warnings.append(
                    f"customers' companies are off for this sync ({self._companies_refused}: "
                    "the token may not list a contact's companies): answer snippets cannot "
                    "remove them")
        except HelpdeskError as exc:  # this conversation only; retried on later runs
            ref = DocumentRef(kind=DocumentKind.TICKET, id=conversation_id)
            if exc.status == 404 and missing_is_gone:
                page.deleted.append(ref)
            else:
                page.failures.append(self.failure(ref, exc))

    def refetch_document(self, ref: DocumentRef, page: SyncPage) -> None:
        if ref.kind == DocumentKind.TICKET:
            # Asked for by id, after the search listed it: a 404 now means deleted.
            self._add_ticket(page, ref.id, missing_is_gone=True)
        else:
            page.documents.append(self._article(self._call("GET", f"/articles/{ref.id}")))

    def _get_conversation(self, conversation_id: str) -> dict[str, Any]:
        """`GET /conversations/{id}` with its parts (up to 500) as plain text."""
        return self._call("GET", f"/conversations/{conversation_id}",
                          params={"display_as": "plaintext"})

    def _ticket(self, conversation_id: str) -> Ticket:
        """A conversation as a ticket; its people (the source's author, each part's author) as
        Intercom names them, which answer snippets remove."""
        raw = self._get_conversation(conversation_id)
        source = raw.get("source") or {}
        description = strip_html(source.get("body"))
        comments = [
            Comment(
                author_role=AUTHOR_ROLES.get((part.get("author") or {}).get("type"), "agent"),
                author=_person(part.get("author")),
                body=strip_html(part["body"]),
                public=part.get("part_type") in PUBLIC_PARTS,
                created_at=_epoch(part.get("created_at")),
            )
            for part in (raw.get("conversation_parts") or {}).get("conversation_parts", [])
            if part.get("body")
        ]
        subject = raw.get("title") or strip_html(source.get("subject"))
        if not subject:  # untitled: the first line is the subject, and not said twice
            first, _, rest = description.partition("\n")
            if len(first) <= 120:
                subject, description = first, rest.strip()
            else:
                subject = first[:120]
        return Ticket(
            id=conversation_id,
            subject=subject,
            description=description,
            comments=comments,
            tags=[tag["name"] for tag in (raw.get("tags") or {}).get("tags", [])],
            status=STATUSES.get(raw.get("state") or "", raw.get("state") or "open"),
            priority="high" if raw.get("priority") == "priority" else None,
            updated_at=_epoch(raw.get("updated_at")),
            requester=self._requester(source.get("author")),
        )

    def _requester(self, author: dict[str, Any] | None) -> Person | None:
        """The customer who opened the conversation, with their company (the first one
        Intercom lists for the contact)."""
        person = _person(author)
        if person is None or author is None or author.get("type") not in CONTACT_TYPES \
                or not author.get("id"):
            return person
        company = self._company_of(str(author["id"]))
        return person.model_copy(update={"organization": company}) if company else person

    def _company_of(self, contact_id: str) -> str | None:
        if contact_id not in self._companies:
            name = None
            if self._companies_refused is None:
                try:
                    data = self._call("GET", f"/contacts/{contact_id}/companies")
                except HelpdeskError as exc:
                    if exc.status not in (403, 404):
                        raise
                    if exc.status == 403:  # the token's scope: the same for every contact
                        self._companies_refused = exc.status
                else:
                    companies = data.get("companies") or data.get("data") or []
                    name = next((c.get("name") for c in companies if c.get("name")), None)
            self._companies[contact_id] = name
        return self._companies[contact_id]

    def tag_vocabulary(self) -> list[str]:
        tags = self._call("GET", "/tags").get("data", [])
        self._tag_ids.update({tag["name"]: str(tag["id"]) for tag in tags})
        return [tag["name"] for tag in tags]

    # -- writing ----------------------------------------------------------------------------
    def _admin(self) -> str:
        if not self.options.admin_id:
            raise NotSupported(f"connector {self.name!r}: set admin_id to write to Intercom")
        return self.options.admin_id

    def add_note(self, ticket_id: str, body: str) -> None:
        self._call("POST", f"/conversations/{ticket_id}/reply", json={
            "message_type": "note", "type": "admin", "admin_id": self._admin(), "body": body})

    def _tag_id(self, name: str) -> str:
        if name not in self._tag_ids:
            self.tag_vocabulary()
        if name not in self._tag_ids:
            # Create-or-update by name: repeating it is harmless.
            tag = self._call("POST", "/tags", json={"name": name}, retry_safe=True)
            self._tag_ids[name] = str(tag["id"])
        return self._tag_ids[name]

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        admin_id = self._admin()
        for name in tags:
            self._call("POST", f"/conversations/{ticket_id}/tags",
                       json={"id": self._tag_id(name), "admin_id": admin_id}, retry_safe=True)

    def _contact_id(self, request: EscalationRequest) -> str:
        if request.customer_email:
            found = self._call("POST", "/contacts/search", retry_safe=True, json={
                "query": {"field": "email", "operator": "=", "value": request.customer_email}})
            if found.get("data"):
                return str(found["data"][0]["id"])
            contact = {"role": "user", "email": request.customer_email,
                       "external_id": request.customer_id, "name": request.customer_name}
        else:
            contact = {"role": "lead", "name": request.customer_name or request.customer_id}
        created = self._call("POST", "/contacts",
                             json={k: v for k, v in contact.items() if v is not None})
        return str(created["id"])

    def create_ticket(self, request: EscalationRequest) -> str:
        admin_id = self._admin()
        conversation_id = request.triage.get("intercom_conversation_id")
        if conversation_id:
            self.add_note(str(conversation_id), f"{request.subject}\n\n{request.transcript}")
        else:
            message = self._call("POST", "/conversations", json={
                "from": {"type": "user", "id": self._contact_id(request)},
                "body": f"{request.subject}\n\n{request.transcript}"})
            conversation_id = message.get("conversation_id") or message["id"]
        if self.options.escalation_assignee_id:
            # Re-assigning to the same assignee changes nothing: safe to repeat.
            self._call("POST", f"/conversations/{conversation_id}/parts", retry_safe=True, json={
                "message_type": "assignment", "type": "admin", "admin_id": admin_id,
                "assignee_id": self.options.escalation_assignee_id})
        return str(conversation_id)

    # -- relay ------------------------------------------------------------------------------
    def conversation(self, ticket_id: str, webhook: Mapping[str, Any] | None = None
                     ) -> TicketConversation:
        # `conversation.admin.replied` carries the conversation, but possibly only its latest
        # parts: the API has all of them (up to 500), in order.
        raw = self._get_conversation(ticket_id)
        return TicketConversation(
            ticket_id=ticket_id, status=_RELAY_STATUS.get(raw.get("state") or "", "open"),
            messages=[_message(part) for part in
                      (raw.get("conversation_parts") or {}).get("conversation_parts", [])
                      if part.get("body")])

    def add_customer_message(self, ticket_id: str, message: CustomerMessage) -> str:
        raw = self._get_conversation(ticket_id)
        parts = (raw.get("conversation_parts") or {}).get("conversation_parts", [])
        # A reply takes no idempotency key: a retry first looks for its own part.
        for part in parts:
            if (AUTHOR_ROLES.get((part.get("author") or {}).get("type")) == "customer"
                    and part.get("part_type") == "comment"
                    and strip_html(part.get("body")) == strip_html(message.body)):
                return str(part["id"])
        contacts = (raw.get("contacts") or {}).get("contacts") or []
        if not contacts:
            raise NotSupported(f"conversation {ticket_id} has no contact to reply as")
        replied = self._call("POST", f"/conversations/{ticket_id}/reply", json={
            "message_type": "comment", "type": "user", "intercom_user_id": contacts[0]["id"],
            "body": message.body})
        mine = (replied.get("conversation_parts") or {}).get("conversation_parts") or [{}]
        return str(mine[-1].get("id", ""))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if self.options.client_secret is None:
            return False
        lower = {k.lower(): v for k, v in headers.items()}
        signature = lower.get("x-hub-signature", "")
        secret = self.options.client_secret.get_secret_value().encode()
        expected = "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()
        return hmac.compare_digest(expected, signature)


@deskpilot.hookimpl
def register_connectors(register: Any) -> None:
    register(IntercomConnector)
