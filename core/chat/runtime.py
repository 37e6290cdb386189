"""Everything the chat endpoints need, built once per app from the services."""

from __future__ import annotations

import os
from dataclasses import dataclass

from agents import set_tracing_disabled
from pydantic import BaseModel

from core.chat.attachments import LocalAttachmentStore
from core.chat.identity import IdentityResolver, load_session_key
from core.chat.server import AgentBuilder, DeskpilotChatServer, RunConfigBuilder
from core.chat.store import ChatStore
from core.services import Services


@dataclass(frozen=True)
class ChatRuntime:
    server: DeskpilotChatServer
    store: ChatStore
    attachments: LocalAttachmentStore
    identities: IdentityResolver


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


def build_chat(
    services: Services,
    build_agent: AgentBuilder | None = None,
    run_config: RunConfigBuilder | None = None,
) -> ChatRuntime:
    """The chat runtime; the agent comes from `core.agent` unless one is given (tests)."""
    if build_agent is None or run_config is None:
        from core.agent import build_customer_agent
        from core.agent import run_config as agent_run_config

        build_agent = build_agent or build_customer_agent
        run_config = run_config or agent_run_config
    settings = services.settings
    has_key = settings.agent.api_key is not None or bool(os.environ.get("OPENAI_API_KEY"))
    if settings.agent.provider != "openai" or not has_key:
        # Traces go to OpenAI: without a key the SDK only warns, with a foreign one it stalls.
        set_tracing_disabled(True)
    store = ChatStore(services.engine)
    attachments = LocalAttachmentStore(store, settings.chat, settings.data_dir)
    store.discard_files = attachments.discard_files
    return ChatRuntime(
        server=DeskpilotChatServer(services, store, attachments, build_agent, run_config),
        store=store,
        attachments=attachments,
        identities=IdentityResolver(
            settings.chat, load_session_key(settings.chat, settings.data_dir)
        ),
    )
