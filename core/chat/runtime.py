"""Everything the chat endpoints need, built once per app from the services."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents import set_tracing_disabled
from pydantic import BaseModel

from deskpilot._platform import AgentFactory
from deskpilot._rate_limit import RateLimits
from deskpilot._tools import ToolAudience
from deskpilot.core.agent import language
from deskpilot.core.chat.attachments import LocalAttachmentStore
from deskpilot.core.chat.identity import IdentityResolver, load_session_key
from deskpilot.core.chat.server import DeskpilotChatServer
from deskpilot.core.chat.store import ChatStore
from deskpilot.core.chat.turns import ThreadTurns

if TYPE_CHECKING:
    from deskpilot.core.services import Services

log = logging.getLogger(__name__)


class FirstEventsFirst:
    """Under a burst, every chat request gets its first event before any stream goes on.

    All open requests share the one event loop, step by step, so the work after a stream's
    first event (saving the message, running the agent) would delay the first event of every
    request still arriving: a visitor would see nothing while others' answers are computed.
    A stream that has sent its first event waits here while other requests wait for theirs,
    for at most `MAX_WAIT` seconds, so a steady flow of arrivals cannot starve it.
    (Measured with bench/chat_load.py, 100 new conversations at once: p95 time to first event
    ~110 ms without this, ~80 ms with it, medians of six runs.)"""

    MAX_WAIT = 0.5

    def __init__(self) -> None:
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def awaiting_first_event(self) -> Iterator[None]:
        self._pending += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    async def wait_turn(self) -> None:
        if not self._idle.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.MAX_WAIT)


@dataclass(frozen=True)
class ChatRuntime:
    server: DeskpilotChatServer
    store: ChatStore
    attachments: LocalAttachmentStore
    identities: IdentityResolver
    # New conversations per session and per client address. Every conversation can become one
    # handoff ticket at most (the escalation outbox is unique per thread), and handoffs have
    # limits of their own ([escalation] handoffs_per_*).
    new_threads: RateLimits
    turns: ThreadTurns
    first_events: FirstEventsFirst = field(default_factory=FirstEventsFirst)


# Modules whose pydantic models a chat turn builds: ChatKit's events and items, and the
# Responses API types the model stream and the Agents SDK use.
_TURN_MODEL_MODULES = ("chatkit.", "openai.types.responses.")


def _subclasses(cls: type[BaseModel]) -> set[type[BaseModel]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def warm_models() -> None:
    """Build the validators that these libraries defer to a model's first use.

    Deferred, each is built on the event loop by the first turn that needs it: ~350 ms in all,
    landing in the middle of a burst of new conversations and delaying every first event."""
    for model in _subclasses(BaseModel):
        if not model.__pydantic_complete__ and model.__module__.startswith(_TURN_MODEL_MODULES):
            model.model_rebuild(raise_errors=False)


async def warm_up(services: Services) -> None:
    """Pay the one-time costs of serving before the first visitor does: validators, the
    language identifier, the embedding model and the index (seconds to load), then freeze what
    startup allocated.

    The model and libraries leave ~760k objects behind; every full garbage collection walked
    all of them, a 0.2-0.6 s pause of the event loop at a random moment of a busy minute.
    Frozen (`gc.freeze()`), they are never scanned again; they are long-lived anyway."""
    log.info("warming up: loading the embedding model and the index")
    started = time.perf_counter()
    warm_models()
    language.load()  # every answer checks the customer's language (core/agent/language.py)
    try:
        await asyncio.get_running_loop().run_in_executor(
            services.query_executor, lambda: services.searcher.search("warm up", k=1)
        )
    except Exception as exc:  # serve anyway: /readyz and each search report the problem
        log.warning("could not warm up the embedder and index: %s", exc)
    gc.collect()
    gc.freeze()
    log.info("warmed up in %.1f s (%d objects frozen)", time.perf_counter() - started,
             gc.get_freeze_count())


def build_chat(
    services: Services,
    build_agent: AgentFactory | None = None,
    audience: ToolAudience = ToolAudience.CUSTOMER,
    workflow: str = "Deskpilot customer chat",
) -> ChatRuntime:
    """A chat runtime: the customer agent's (`core.agent`) unless another is given."""
    if build_agent is None:
        from deskpilot.core.agent import build_customer_agent

        build_agent = build_customer_agent
    settings = services.settings
    has_key = settings.agent.api_key is not None or bool(os.environ.get("OPENAI_API_KEY"))
    if settings.agent.provider != "openai" or not has_key:
        # Traces go to OpenAI: without a key the SDK only warns, with a foreign one it stalls.
        set_tracing_disabled(True)
    store = ChatStore(services.engine)
    attachments = LocalAttachmentStore(store, settings.chat, settings.data_dir)
    store.discard_files = attachments.discard_files
    return ChatRuntime(
        server=DeskpilotChatServer(services, store, attachments, build_agent, audience, workflow),
        store=store,
        attachments=attachments,
        identities=IdentityResolver(
            settings.chat, load_session_key(settings.chat, settings.data_dir)
        ),
        new_threads=RateLimits("new conversations", session=settings.chat.new_threads_per_session,
                               address=settings.chat.new_threads_per_address),
        turns=ThreadTurns(services.engine),
    )
