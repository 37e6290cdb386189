"""The connector contract: what a helpdesk plugin implements.

A connector reads knowledge incrementally (`fetch` yields `SyncPage`s from a checkpoint) and
declares which write-backs it supports. Write-back methods a connector does not support raise
`NotSupported`; callers check `capabilities` first.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from deskpilot._documents import (
    CustomerMessage,
    DocumentFailure,
    DocumentRef,
    EscalationRequest,
    SyncPage,
    TicketConversation,
)
from deskpilot._errors import HelpdeskError
from deskpilot._options import Options

if TYPE_CHECKING:
    import httpx

    from deskpilot._platform import Platform


class Capability(StrEnum):
    NOTES = "notes"  # post an internal note on a ticket
    TAGS = "tags"  # add tags to a ticket
    TICKETS = "tickets"  # create a ticket (escalation)
    WEBHOOKS = "webhooks"  # verify signed webhook deliveries
    # Two-way relay of a handed-over conversation: read the ticket's messages and status,
    # add the customer's chat messages as the requester's public comments.
    RELAY = "relay"


class NotSupported(Exception):
    """The connector cannot do this write-back."""


class ConnectorOptions(Options):
    """Base for a connector's own options (the keys of its `[connectors.NAME]` table)."""


class Connector(ABC):
    #: The `type` users write in `[connectors.NAME]`.
    type: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: True when every `fetch(None)` lists all live documents, so that the sync engine may treat
    #: documents it did not see in a full run as deleted.
    full_listing: ClassVar[bool] = False
    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions

    def __init__(self, name: str, options: ConnectorOptions) -> None:
        self.name = name
        self.options = options
        # The running platform, set by the host once the connector is built: for a connector
        # that records what it does (the local connector keeps its write-backs as audit events).
        self.platform: Platform | None = None

    @classmethod
    def from_config(cls, name: str, options: Mapping[str, Any]) -> Connector:
        return cls(name, cls.Options.model_validate(dict(options)))

    @abstractmethod
    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        """Yield pages of changes since `checkpoint` (None: everything).

        A document whose own request fails goes into the page's `failures` (with its `ref`)
        and the rest of the page still comes; only a failure of the listing itself raises."""

    def refetch(self, refs: list[DocumentRef]) -> SyncPage:
        """The current state of documents that failed on an earlier run: one page holding each
        as a document, a deletion (gone at the source) or a failure again. The engine calls it
        on later runs, with backoff. Not supported: they are retried when the listing brings
        them again (they change at the source, or a --full sync)."""
        raise NotSupported(f"{self.type} connector cannot fetch single documents")

    def tag_vocabulary(self) -> list[str]:
        return []

    def add_note(self, ticket_id: str, body: str) -> None:
        raise NotSupported(f"{self.type} connector cannot post notes")

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        raise NotSupported(f"{self.type} connector cannot tag tickets")

    def create_ticket(self, request: EscalationRequest) -> str:
        raise NotSupported(f"{self.type} connector cannot create tickets")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        raise NotSupported(f"{self.type} connector does not receive webhooks")

    def conversation(self, ticket_id: str, webhook: Mapping[str, Any] | None = None
                     ) -> TicketConversation:
        """RELAY: the ticket's messages (internal notes with `public=False`), oldest first, each
        with a stable id, and its status. `webhook` is the verified delivery that prompted the
        read, if any: a connector whose helpdesk sends the messages in it may use them."""
        raise NotSupported(f"{self.type} connector cannot relay conversations")

    def add_customer_message(self, ticket_id: str, message: CustomerMessage) -> str:
        """RELAY: add the customer's chat message to the ticket as the requester's public
        comment; returns the helpdesk's id of it. Called again with the same `message.key`
        after a failure, it must not add the message twice."""
        raise NotSupported(f"{self.type} connector cannot relay conversations")

    def signed_webhook_content(self, headers: Mapping[str, str], body: bytes) -> bytes:
        """What `verify_webhook` checked the signature of. Deliveries are told apart by it, so
        a replay under a new (unsigned) id header is still the same delivery. The body, unless
        the signature covers more: override to add it (Zendesk signs its timestamp too)."""
        return body

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release network clients."""


class HttpConnector(Connector):
    """A connector for one HTTP API, through Deskpilot's client policy (`make_client`: timeouts,
    retries on 429/5xx and dropped connections honouring `Retry-After`, redacted logs).

    A subclass says where the API is (`base_url`) and how to authenticate (`auth`, `headers`)
    and calls it through `self.http`. Tests pass `transport` (e.g. an `httpx.MockTransport`)
    and `sleep` (to skip the waits); configuration never sees them."""

    def __init__(self, name: str, options: ConnectorOptions, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(name, options)
        from deskpilot._http import make_client  # httpx: only when a connector is built

        self.http = make_client(self.base_url(), auth=self.auth(), headers=self.headers(),
                                transport=transport, sleep=sleep)

    @abstractmethod
    def base_url(self) -> str:
        """The API's root URL, from the options."""

    def auth(self) -> httpx.Auth | tuple[str, str] | None:
        """Credentials for every request (a `(user, password)` pair is Basic auth)."""
        return None

    def headers(self) -> dict[str, str]:
        """Headers for every request (e.g. a bearer token, an API version)."""
        return {}

    def request_json(self, method: str, path: str, *, retry_safe: bool | None = None,
                     **kwargs: Any) -> Any:
        """Call the API and return its JSON. Any failure, after the client's retries, raises a
        HelpdeskError naming this connector, the URL, what was wrong and what to do.
        `retry_safe=True` marks a POST the API documents as safe to repeat, `False` a PUT or
        DELETE that is not (it appends a comment); None: by the method."""
        import httpx

        from deskpilot._http import NOT_IDEMPOTENT, RETRY_SAFE, connection_error, read_json

        if retry_safe is not None:
            kwargs["extensions"] = RETRY_SAFE if retry_safe else NOT_IDEMPOTENT
        prefix = f"connector {self.name!r} ({self.type})"
        request = self.http.build_request(method, path, **kwargs)
        try:
            response = self.http.send(request)
        except httpx.TransportError as exc:
            raise connection_error(request, exc).with_context(prefix) from None
        try:
            return read_json(response)
        except HelpdeskError as exc:
            raise exc.with_context(prefix) from None

    def refetch(self, refs: list[DocumentRef]) -> SyncPage:
        """Each document read again by `refetch_document`: a HelpdeskError with status 404 on
        its own record means it is gone (deleted), any other is a failure again."""
        page = SyncPage()
        for ref in refs:
            try:
                self.refetch_document(ref, page)
            except HelpdeskError as exc:
                if exc.status == 404:
                    page.deleted.append(ref)
                else:
                    page.failures.append(self.failure(ref, exc))
        return page

    def refetch_document(self, ref: DocumentRef, page: SyncPage) -> None:
        """Read one document by id and add it to `page` (as a document, or as deleted when the
        helpdesk says so). Let the HelpdeskError of its own record's request propagate; a failed
        request for a part of it (a ticket's comments) goes into `page.failures` here, so that it
        is not taken for a deletion. Not overridden: documents are not fetched singly."""
        raise NotSupported(f"{self.type} connector cannot fetch single documents")

    def failure(self, ref: DocumentRef, error: HelpdeskError) -> DocumentFailure:
        """A page's record of one document whose own request failed."""
        return DocumentFailure(where=f"{ref.kind} {ref.id}", error=error.message, ref=ref,
                               url=error.url, status=error.status)

    def close(self) -> None:
        self.http.close()
