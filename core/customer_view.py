"""What a customer tool's `self.platform` is: the platform with the internal parts taken out.

A CUSTOMER tool answers whoever is chatting, so the boundary is kept where the tool is built,
not in every author's search filter: its search always reads public knowledge (whatever filter
it passes), and past tickets, the database, the audit log, a helpdesk's reads and staff tools
are not offered (`InternalOnly`). A helpdesk connector appears as its write-backs only, so a
handoff can still open a ticket. State a plugin builds with `shared(factory)` is built with the
full platform: that is the plugin's own trusted code (its hooks get the full platform too), and
what a tool returns from it is the plugin's responsibility. Staff (AGENT) tools get the full
platform.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from deskpilot._documents import Audience
from deskpilot._errors import InternalOnly
from deskpilot._search import Passage, SearchFilter
from deskpilot._tools import ToolAudience

if TYPE_CHECKING:
    from agents import FunctionTool, RunConfig
    from agents.models.interface import Model

    from deskpilot._connector import Capability, Connector
    from deskpilot._documents import EscalationRequest
    from deskpilot._embedder import Embedder
    from deskpilot._events import Event
    from deskpilot._platform import PlatformMetrics
    from deskpilot.core.budget import BudgetStatus
    from deskpilot.core.config import Settings
    from deskpilot.core.services import Services

T = TypeVar("T")


class HelpdeskWrites:
    """A connector as a customer tool sees it: who it is and what it can write, no reads."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector

    @property
    def name(self) -> str:
        return self._connector.name

    @property
    def type(self) -> str:
        return self._connector.type

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._connector.capabilities

    def create_ticket(self, request: EscalationRequest) -> str:
        return self._connector.create_ticket(request)

    def add_note(self, ticket_id: str, body: str) -> None:
        self._connector.add_note(ticket_id, body)

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._connector.add_tags(ticket_id, tags)


class CustomerPlatform:
    """The `Platform` of CUSTOMER tools (see the module doc)."""

    def __init__(self, platform: Services) -> None:
        self._platform = platform

    @staticmethod
    def _refuse(member: str) -> NoReturn:
        raise InternalOnly(member)

    # -- what a customer tool may use -------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._platform.settings

    def settings_for(self, model: type[T]) -> T:
        return self._platform.settings_for(model)

    @property
    def embedder(self) -> Embedder:
        return self._platform.embedder

    def search(self, query: str, k: int = 5, filter: SearchFilter | None = None,
               per_document: bool = False) -> list[Passage]:
        """Public knowledge only: the audience of any filter given is replaced by PUBLIC."""
        public = dataclasses.replace(filter or SearchFilter(), audience=Audience.PUBLIC)
        passages = self._platform.search(query, k, public, per_document)
        # Belt and braces: an index answering past its filter still leaks nothing.
        return [p for p in passages if p.audience == Audience.PUBLIC]

    @property
    def connectors(self) -> Mapping[str, HelpdeskWrites]:
        return {name: HelpdeskWrites(c) for name, c in self._platform.connectors.items()}

    def connector(self, name: str) -> HelpdeskWrites:
        return HelpdeskWrites(self._platform.connector(name))

    def shared(self, factory: Callable[[Any], T]) -> T:
        return self._platform.shared(factory)

    async def run_blocking(self, fn: Callable[..., T], /, *args: Any, cpu: bool = False) -> T:
        return await self._platform.run_blocking(fn, *args, cpu=cpu)

    def audit(self, kind: str, subject: str = "", **data: Any) -> None:
        self._platform.audit(kind, subject, **data)

    def claim_write(self, kind: str, subject: str) -> bool:
        return self._platform.claim_write(kind, subject)

    def release_write(self, kind: str, subject: str) -> None:
        self._platform.release_write(kind, subject)

    def emit(self, event: Event) -> None:
        self._platform.emit(event)

    @property
    def metrics(self) -> PlatformMetrics:
        return self._platform.metrics

    def budget_status(self) -> BudgetStatus:
        return self._platform.budget_status()

    def triage(self, text: str, connector: str | None = None) -> dict[str, Any] | None:
        return self._platform.triage(text, connector)

    def function_tools(self, audience: ToolAudience) -> list[FunctionTool]:
        if audience != ToolAudience.CUSTOMER:
            self._refuse("function_tools(ToolAudience.AGENT): staff tools")
        return self._platform.function_tools(audience)

    def model(self, *, shared: bool = True) -> Model:
        return self._platform.model(shared=shared)

    def run_config(self, workflow: str) -> RunConfig:
        return self._platform.run_config(workflow)

    # -- internal: not offered --------------------------------------------------------------
    @property
    def engine(self) -> NoReturn:
        self._refuse("engine (the database: tickets, conversations)")

    @property
    def past_tickets(self) -> NoReturn:
        self._refuse("past_tickets")

    def audit_log(self, kind: str, subject: str) -> NoReturn:
        self._refuse("audit_log")

    def publish_articles(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("publish_articles (writes what every customer reads)")

    def chat_endpoint(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("chat_endpoint (a route's business, in register_routes)")

    def post_to_thread(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("post_to_thread (any customer's thread; a worker's or route's business)")

    @property
    def require_admin(self) -> NoReturn:
        self._refuse("require_admin (a route's business, in register_routes)")
