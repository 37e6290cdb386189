"""What connectors hand the platform: articles, tickets and the pages a sync is made of.

Timestamps are timezone-aware (UTC if the source gives none is a connector bug, and the
contract test kit rejects naive ones). Ids are the helpdesk's own, as strings (an integer id
becomes its string).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field


class _Model(BaseModel):
    # Validators are built on first use, not at import: every `deskpilot` command imports these
    # models (through the plugins), few of them validate a document.
    model_config = ConfigDict(defer_build=True)


def id_text(value: Any) -> Any:
    """An integer id as its string: helpdesks number their records, and an export or a JSON
    Lines file of them says 42 where the contract keeps "42"."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


DocumentId = Annotated[str, BeforeValidator(id_text)]


class Audience(StrEnum):
    """Who may read a piece of knowledge. A security boundary: customers only ever get PUBLIC."""

    PUBLIC = "public"
    INTERNAL = "internal"


class DocumentKind(StrEnum):
    ARTICLE = "article"
    TICKET = "ticket"


class Person(_Model):
    """Someone on a ticket as the helpdesk knows them: what an answer snippet must not name."""

    name: str | None = None
    email: str | None = None
    organization: str | None = None


class Comment(_Model):
    author_role: Literal["customer", "agent", "system"] = "agent"
    body: str
    author: Person | None = None
    # False for internal notes and private comments: those are INTERNAL knowledge only.
    public: bool
    created_at: AwareDatetime | None = None


def http_url(url: str | None) -> str | None:
    """The URL if it is http(s), else None: a `javascript:` or `data:` link from a helpdesk
    would reach chat clients as a clickable source."""
    if url is None:
        return None
    url = url.strip()
    return url if url.lower().startswith(("http://", "https://")) else None


class Article(_Model):
    kind: Literal["article"] = "article"
    id: DocumentId
    title: str
    body_html: str
    url: Annotated[str | None, AfterValidator(http_url)] = None
    locale: str = "en"
    updated_at: AwareDatetime | None = None
    audience: Audience = Audience.PUBLIC
    # Drafts are reported too, so that a published-then-drafted article leaves the index.
    published: bool = True
    # The tickets ("connector:ticket_id") the article was distilled from, if any (an answer
    # snippet's): a search can leave it out with them (SearchFilter.exclude_origins).
    derived_from: list[str] = []


class Ticket(_Model):
    kind: Literal["ticket"] = "ticket"
    id: DocumentId
    subject: str
    description: str
    comments: list[Comment] = []
    tags: list[str] = []
    status: str = "solved"
    priority: str | None = None
    category: str | None = None
    url: Annotated[str | None, AfterValidator(http_url)] = None
    locale: str = "en"
    updated_at: AwareDatetime | None = None
    requester: Person | None = None


Document = Annotated[Article | Ticket, Field(discriminator="kind")]


class DocumentRef(_Model):
    """Names a document without its content, e.g. one deleted at the source."""

    kind: DocumentKind
    id: DocumentId


class DocumentFailure(_Model):
    """A source record the connector could not read or turn into a document (its own request
    failed, bad JSON, a missing field). The sync engine records it in the run's failures and
    goes on with the rest; one with a `ref` is fetched again on later runs (`refetch`)."""

    where: str  # e.g. "tickets.jsonl:12" or a helpdesk id
    error: str
    # When the record's identity is known: the engine keeps what it already indexed for it
    # instead of treating it as deleted, and retries it later.
    ref: DocumentRef | None = None
    # When a request failed: its URL (credentials removed) and HTTP status (None: no answer).
    url: str | None = None
    status: int | None = None


class SyncPage(_Model):
    """One page of an incremental sync. The engine persists `checkpoint` after applying the
    page, so an interrupted run resumes from the last page it finished."""

    documents: list[Document] = []
    deleted: list[DocumentRef] = []
    failures: list[DocumentFailure] = []
    checkpoint: dict[str, Any] | None = None
    # Said once to the operator and kept in the run's report, e.g. "articles: the account has
    # no Help Center (404); that stream is off until a --full sync".
    warnings: list[str] = []


class EscalationRequest(_Model):
    """A conversation handed to a person: becomes a ticket (or assignment) in the helpdesk."""

    subject: str
    transcript: str
    customer_id: str
    customer_email: str | None = None
    customer_name: str | None = None
    triage: dict[str, Any] = {}
    thread_id: str | None = None
    created_at: datetime | None = None


# -- relay: a handed-over conversation, between the chat and the helpdesk ticket --------------
class TicketMessage(_Model):
    """One message on a ticket as the helpdesk holds it (`Connector.conversation`)."""

    #: The helpdesk's own id of the message: stable across reads (relay deduplicates on it).
    id: str
    author_role: Literal["customer", "agent", "system"]
    #: The display name the customer sees for a person's reply ("Dana from Acme").
    author_name: str | None = None
    body: str
    #: False for internal notes: those never reach the customer's chat.
    public: bool
    created_at: AwareDatetime | None = None


class TicketConversation(_Model):
    """A ticket's messages, oldest first, and its status in Deskpilot's words."""

    ticket_id: str
    #: "open" (a person is on it), "pending" (waiting on the customer), "solved" or "closed".
    status: Literal["open", "pending", "solved", "closed"]
    messages: list[TicketMessage] = []


class CustomerMessage(_Model):
    """A customer's chat message for the ticket, to add as the requester's public comment."""

    #: Unique per message: a connector that can, passes it on as an idempotency key, so a
    #: retried write adds nothing twice.
    key: str
    body: str
    customer_id: str
    customer_email: str | None = None
    customer_name: str | None = None
    created_at: AwareDatetime | None = None
