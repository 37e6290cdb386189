"""What a chat turn carries: who is asking (into the store, the agent and its tools), and what
a plugin sees of a turn before the agent runs (`before_agent_turn`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from deskpilot._tools import ToolAudience


@dataclass(frozen=True)
class RequestContext:
    """Per request; a tool finds it as `ctx.context.request_context` (ctx: the agents
    RunContextWrapper of a chat run)."""

    # Namespaced ("user:<host id>" or "anon:<session id>") so the two kinds never collide.
    user_id: str
    # The app's public base URL ("https://host/prefix/"), for upload and preview links.
    base_url: str = "http://localhost/"
    #: What the host site's signed user token says about the user besides the id (e.g.
    #: `email`, `name`, `plan`); empty for an anonymous visitor.
    claims: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: Whether `user_id` was proven (a signed user token, or the admin token for staff), not
    #: an anonymous session.
    verified: bool = False
    #: The client's network address, for per-address limits (None when unknown).
    client_address: str | None = None


@dataclass
class ChatTurn:
    """One incoming message of a conversation, before any agent answers it."""

    thread_id: str
    user_id: str
    #: The message's text ("" for a turn without one, e.g. a retry).
    text: str
    #: The thread's metadata: changes made here are saved with the thread.
    metadata: dict[str, Any]
    title: str | None
    #: CUSTOMER in the customer chat, AGENT in a staff chat (the copilot).
    audience: ToolAudience
    #: The conversation so far, oldest first, as (role, text) with role "customer" or
    #: "assistant"; at most `limit` items.
    history: Callable[[int], Awaitable[list[tuple[str, str]]]]
    #: The message's item id in the thread (None for a turn without one).
    item_id: str | None = None
    #: The signed token's claims (RequestContext.claims); empty for an anonymous visitor.
    claims: dict[str, Any] = field(default_factory=dict)
    #: RequestContext.client_address: where the message came from.
    client_address: str | None = None
    #: The message opens the conversation (`threads.create`): nothing was stored for the
    #: thread before this request, so a plugin need not look it up.
    new_thread: bool = False


@dataclass(frozen=True)
class AgentAnswer:
    """What the agent answered in a turn (`after_agent_turn`)."""

    text: str
    #: How many sources the answer cites: an answer that cites none is a low-confidence one.
    sources: int


@dataclass(frozen=True)
class Reply:
    """A turn hook's reply with a marker a client may show (a plain `str` is a reply too, and
    reads as the AI's answer). The marker travels in the message as an entity annotation,
    `data.deskpilot = {"event": …, "author": …, "asked_for_person": true}`: e.g.
    `event="handoff"` tells the widget to watch for a person's replies."""

    #: `event` of the reply that hands the conversation to a person: the widget then watches
    #: for their replies, and what follows is theirs, not the AI's.
    HANDOFF: ClassVar[str] = "handoff"
    #: `event` of a plugin's own message on the way to a hand-over (e.g. asking an anonymous
    #: visitor for an email address): neither the AI's answer nor yet a person's.
    HANDOFF_PENDING: ClassVar[str] = "handoff_pending"

    text: str
    event: str | None = None
    author: str | None = None
    #: The message this replies to only asked for a person (no question of its own): the
    #: knowledge-gap report leaves it out.
    asked_for_person: bool = False

    @property
    def marker(self) -> dict[str, Any]:
        """`data.deskpilot` of the message (empty: an unmarked reply)."""
        fields = {"author": self.author, "event": self.event,
                  "asked_for_person": self.asked_for_person}
        return {key: value for key, value in fields.items() if value}

    @staticmethod
    def marker_in(annotation: Mapping[str, Any]) -> dict[str, Any] | None:
        """The marker a stored or streamed annotation (as JSON) carries; None for any other
        annotation (a source link)."""
        source = annotation.get("source") or {}
        found = (source.get("data") or {}).get("deskpilot") if source.get("type") == "entity" \
            else None
        return found if isinstance(found, dict) else None
