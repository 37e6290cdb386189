"""The public API for Deskpilot plugin authors: everything a plugin needs, from one import.

    import deskpilot

    @deskpilot.hookimpl
    def register_connectors(register):
        register(MyHelpdeskConnector)

Built-in plugins import only from here too, so this is the API exercised every day. The
platform behind it (`deskpilot.core`, `deskpilot.knowledge`) may change between releases; names
exported here follow semantic versioning. The plugin contract kit is `deskpilot.testkit`.
"""

from typing import Any

from deskpilot._automation import StepRun, TicketEvent, TicketStep
from deskpilot._chat import AgentAnswer, ChatTurn, Reply, RequestContext
from deskpilot._connector import (
    Capability,
    Connector,
    ConnectorOptions,
    HttpConnector,
    NotSupported,
)
from deskpilot._dashboard import DashboardPage
from deskpilot._documents import (
    Article,
    Audience,
    Comment,
    CustomerMessage,
    Document,
    DocumentFailure,
    DocumentKind,
    DocumentRef,
    EscalationRequest,
    Person,
    SyncPage,
    Ticket,
    TicketConversation,
    TicketMessage,
)
from deskpilot._embedder import Embedder, EmbedderSettings
from deskpilot._errors import ClientError, HelpdeskError, InternalOnly, UnknownConnector
from deskpilot._events import (
    ConversationEscalated,
    Event,
    SyncFinished,
    TicketsSynced,
    TicketTriaged,
)
from deskpilot._hooks import hookimpl
from deskpilot._options import Options
from deskpilot._platform import (
    AgentFactory,
    ChatEndpoint,
    PastTicket,
    PastTickets,
    Platform,
    PlatformMetrics,
    TicketMemory,
)
from deskpilot._rate_limit import RateLimits, check_rate
from deskpilot._search import Passage, SearchFilter, passages_json
from deskpilot._time import utcnow
from deskpilot._tool_function import ToolCall, tool
from deskpilot._tools import AgentTool, ToolAudience

__all__ = [
    "RETRY_SAFE",
    "AgentAnswer",
    "AgentFactory",
    "AgentTool",
    "Article",
    "Audience",
    "Capability",
    "ChatEndpoint",
    "ChatTurn",
    "ClientError",
    "Comment",
    "Connector",
    "ConnectorOptions",
    "ConversationEscalated",
    "CustomerMessage",
    "DashboardPage",
    "Document",
    "DocumentFailure",
    "DocumentKind",
    "DocumentRef",
    "Embedder",
    "EmbedderSettings",
    "EscalationRequest",
    "Event",
    "HelpdeskError",
    "HttpConnector",
    "InternalOnly",
    "NotSupported",
    "Options",
    "Passage",
    "PastTicket",
    "PastTickets",
    "Person",
    "Platform",
    "PlatformMetrics",
    "RateLimits",
    "Reply",
    "RequestContext",
    "SearchFilter",
    "StepRun",
    "SyncFinished",
    "SyncPage",
    "Ticket",
    "TicketConversation",
    "TicketEvent",
    "TicketMemory",
    "TicketMessage",
    "TicketStep",
    "TicketTriaged",
    "TicketsSynced",
    "ToolCall",
    "ToolAudience",
    "UnknownConnector",
    "check_rate",
    "hookimpl",
    "make_client",
    "passages_json",
    "tool",
    "utcnow",
]


def __getattr__(name: str) -> Any:
    # The HTTP client policy imports httpx (~0.1 s): only a connector that calls an API needs
    # it, not every `deskpilot` command that merely loads the plugins. So these two are read
    # when first used (`deskpilot.RETRY_SAFE` at call time, not imported at module level).
    if name in ("RETRY_SAFE", "make_client"):
        from deskpilot import _http

        return getattr(_http, name)
    raise AttributeError(f"module 'deskpilot' has no attribute {name!r}")
