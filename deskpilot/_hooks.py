"""Deskpilot's plugin hooks: the only way the host reaches a plugin, built-ins included.

Registration hooks receive `register`, a callable taking one object (and, for some, options).
Event hooks receive the event; a plugin declares only the arguments it needs. A plugin that
raises in a hook is recorded against itself (`deskpilot plugins` shows it); the others and the
caller go on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from deskpilot._chat import AgentAnswer, ChatTurn, Reply
    from deskpilot._documents import Ticket
    from deskpilot._events import (
        ConversationEscalated,
        SyncFinished,
        TicketsSynced,
        TicketTriaged,
    )
    from deskpilot._platform import Platform

hookspec = pluggy.HookspecMarker("deskpilot")
hookimpl = pluggy.HookimplMarker("deskpilot")

Register = Callable[..., None]


# -- registration --------------------------------------------------------------------------
@hookspec
def register_connectors(register: Register) -> None:
    """`register(cls)`: helpdesk connector classes (subclasses of `Connector`), keyed by
    `type`."""


@hookspec
def register_tools(register: Register) -> None:
    """`register(cls)`: agent tool classes (subclasses of `AgentTool`), keyed by `name`."""


@hookspec
def register_embedders(register: Register) -> None:
    """`register(cls)`: embedder classes (subclasses of `Embedder`), keyed by `name`."""


@hookspec
def register_settings(register: Register) -> None:
    """`register(model, section=None)`: a pydantic model (e.g. a `deskpilot.Options`
    subclass) of the plugin's settings, read from the config table `section` (default
    `plugins.<plugin name>`). Several plugins may each declare their own keys of one table.
    The instance: `platform.settings_for(model)`."""


@hookspec
def register_ticket_steps(register: Register) -> None:
    """`register(TicketStep(...))`: work to do when a helpdesk reports a ticket created or
    updated (a signed webhook), such as triage, tags or a draft note."""


@hookspec
def register_migrations(register: Register) -> None:
    """`register(folder)`: the plugin's Alembic migration scripts (a `versions` folder), with a
    history of their own (version table `alembic_version_<plugin>`), applied with the core's."""


@hookspec
def register_routes(register: Register, platform: Platform) -> None:
    """`register(router)`: `fastapi.APIRouter`s for the app to mount (a plugin's own HTTP
    API). Called when the app is built."""


@hookspec
def register_dashboard_pages(register: Register) -> None:
    """`register(DashboardPage(...))`: pages of the operator dashboard (`GET /admin/<name>`),
    behind its login and CSRF checks, e.g. a review queue. Called when the app is built."""


@hookspec
def register_commands(register: Register) -> None:
    """`register(app, group=None)`: a `typer.Typer` whose commands join the `deskpilot`
    command line, at the top or in a built-in group (`eval`, `sync`, `index`, `db`,
    `config`). Called when the command line is built, for every command: keep the module
    that defines them light, and import heavy libraries inside the commands."""


# -- running ---------------------------------------------------------------------------------
@hookspec
def background_workers(platform: Platform) -> list[Callable[[], Awaitable[None]]]:
    """Async callables (no arguments) `serve` runs while it is up, e.g. an outbox retry loop;
    cancelled at shutdown. Each must be safe to run in several server processes at once."""


@hookspec(firstresult=True)
def before_agent_turn(platform: Platform, turn: ChatTurn) -> Awaitable[str | Reply] | None:
    """A chat message before the agent answers it. Return None to let the agent answer, or an
    awaitable of the reply to post instead (the first plugin to answer wins): how a handoff
    takes "talk to a person" without asking the model. An awaitable of "" posts nothing: the
    bot stays silent (a person owns the conversation). A `Reply` instead of a str carries a
    marker for the client (`Reply(text, event="handoff")`)."""


@hookspec(firstresult=True)
def after_agent_turn(platform: Platform, turn: ChatTurn, answer: AgentAnswer
                     ) -> Awaitable[str | Reply | None] | None:
    """The agent has answered `turn` with `answer`. Return None, or an awaitable of a message
    to post after the answer (None: nothing): how a rule hands over after several answers
    without a source. Changes to `turn.metadata` are saved with the thread."""


@hookspec(firstresult=True)
def triage_text(platform: Platform, text: str, connector: str | None) -> dict[str, Any] | None:
    """Category, priority and intent of a ticket's text (`platform.triage`), or None when this
    plugin cannot triage."""


@hookspec
def similar_answers(platform: Platform, vector: list[float], embedder: str, limit: int
                    ) -> list[dict[str, Any]] | None:
    """Answers this plugin holds to questions like the one `vector` stands for (unit length,
    made by the embedder whose `identity` is `embedder`), best first, at most `limit`: each
    `{"question", "answer", "similarity", "tickets": [...], "status"}`. The knowledge-gap
    report drafts its article outlines from them (the snippets plugin: solved tickets)."""


@hookspec(firstresult=True)
def draft_reply(platform: Platform, ticket: Ticket, connector: str | None
                ) -> dict[str, Any] | None:
    """A reply draft for a ticket, for a person to review: `{"reply", "body", "sources",
    "generated_by"}` (`deskpilot eval drafts` compares `reply` with what agents really sent),
    or None when this plugin does not draft. Blocking."""


# -- events ----------------------------------------------------------------------------------
@hookspec
def sync_finished(platform: Platform, event: SyncFinished) -> None:
    """A knowledge sync run ended."""


@hookspec
def tickets_synced(platform: Platform, event: TicketsSynced) -> None:
    """A sync page with tickets was applied (in the sync's thread: keep it short or hand off)."""


@hookspec
def ticket_triaged(platform: Platform, event: TicketTriaged) -> None:
    """Triage produced a result for a helpdesk ticket."""


@hookspec
def conversation_escalated(platform: Platform, event: ConversationEscalated) -> None:
    """A customer conversation was handed to a person."""
