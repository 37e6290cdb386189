"""The public API for Deskpilot plugin authors: everything a plugin needs, from one import.

    import deskpilot

    @deskpilot.hookimpl
    def register_connectors(register):
        register(MyHelpdeskConnector)

Built-in plugins import from here too, so this is the API exercised every day. Internals behind
it may move between releases; names exported here follow semantic versioning.
"""

from deskpilot.core.config import EmbedderSettings
from deskpilot.core.connector import Capability, Connector, ConnectorOptions, NotSupported
from deskpilot.core.documents import (
    Article,
    Audience,
    Comment,
    Document,
    DocumentFailure,
    DocumentKind,
    DocumentRef,
    EscalationRequest,
    SyncPage,
    Ticket,
)
from deskpilot.core.embedder import Embedder
from deskpilot.core.hookspecs import hookimpl
from deskpilot.core.http import RETRY_SAFE, make_client
from deskpilot.core.tools import AgentTool, ToolAudience
from deskpilot.knowledge.interfaces import Passage, SearchFilter
from deskpilot.knowledge.passages import passages_json

__all__ = [
    "AgentTool",
    "Article",
    "Audience",
    "Capability",
    "Comment",
    "Connector",
    "ConnectorOptions",
    "Document",
    "DocumentFailure",
    "DocumentKind",
    "DocumentRef",
    "Embedder",
    "EmbedderSettings",
    "EscalationRequest",
    "NotSupported",
    "Passage",
    "RETRY_SAFE",
    "SearchFilter",
    "SyncPage",
    "Ticket",
    "ToolAudience",
    "hookimpl",
    "make_client",
    "passages_json",
]
