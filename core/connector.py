"""The connector contract: what a helpdesk plugin implements.

A connector reads knowledge incrementally (`fetch` yields `SyncPage`s from a checkpoint) and
declares which write-backs it supports. Write-back methods a connector does not support raise
`NotSupported`; callers check `capabilities` first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any, ClassVar

from deskpilot.core.documents import EscalationRequest, SyncPage
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Engine


class Capability(StrEnum):
    NOTES = "notes"  # post an internal note on a ticket
    TAGS = "tags"  # add tags to a ticket
    TICKETS = "tickets"  # create a ticket (escalation)
    WEBHOOKS = "webhooks"  # verify signed webhook deliveries


class NotSupported(Exception):
    """The connector cannot do this write-back."""


class ConnectorOptions(BaseModel):
    """Base for a connector's own options (the keys of its `[connectors.NAME]` table)."""

    model_config = ConfigDict(extra="forbid")


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
        # The platform database, set by Services; for connectors that keep state there
        # (the local connector stores its write-backs in it).
        self.engine: Engine | None = None

    @classmethod
    def from_config(cls, name: str, options: Mapping[str, Any]) -> Connector:
        return cls(name, cls.Options.model_validate(dict(options)))

    @abstractmethod
    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        """Yield pages of changes since `checkpoint` (None: everything)."""

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

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release network clients."""
