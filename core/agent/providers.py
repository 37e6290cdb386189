"""Model providers: `offline` (built in), `openai` (Responses API), `openai-compatible` (Chat
Completions against any base URL: vLLM, Ollama, llama.cpp server, LiteLLM).
"""

from __future__ import annotations

from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
from agents.models.interface import Model
from openai import AsyncOpenAI

from deskpilot.core.agent.grounding import Embed, GroundedModel
from deskpilot.core.agent.offline import OfflineModel
from deskpilot.core.agent.offline_tools import OfflineTrigger
from deskpilot.core.config import AgentSettings, ConfigError

# Network hygiene for hosted and self-hosted endpoints alike.
TIMEOUT_SECONDS = 60.0
MAX_RETRIES = 3
# Local OpenAI-compatible servers usually ignore the key, but the client insists on one.
_NO_KEY = "not-needed"


def _client(settings: AgentSettings, *, key_required: bool) -> AsyncOpenAI:
    key = settings.api_key.get_secret_value() if settings.api_key else None
    try:
        # With no configured key the client falls back to $OPENAI_API_KEY.
        return AsyncOpenAI(
            api_key=key or (None if key_required else _NO_KEY), base_url=settings.base_url,
            timeout=TIMEOUT_SECONDS, max_retries=MAX_RETRIES,
        )
    except Exception as exc:  # openai.OpenAIError: no key anywhere
        raise ConfigError(f"agent.api_key: {exc}".splitlines()[0]) from None


def make_model(settings: AgentSettings, offline_tool: str | None = None,
               offline_triggers: tuple[OfflineTrigger, ...] = (),
               embed: Embed | None = None) -> Model:
    """The model for the configured provider. Raises ConfigError for an unusable setup.
    `offline_tool`: the knowledge search the offline model asks (a tool's `offline_default`);
    `offline_triggers`: the tools it calls when a message matches their examples.
    `embed`: the knowledge embedder; with it, an LLM's turns are checked against the passages
    (grounding.py) unless `agent.check_grounding` is off."""
    if settings.provider == "offline":
        return OfflineModel(offline_tool, offline_triggers)
    model: Model
    if settings.provider == "openai":
        model = OpenAIResponsesModel(settings.model, _client(settings, key_required=True))
    elif not settings.base_url:
        raise ConfigError("agent.base_url: required for provider openai-compatible")
    else:
        # Its messages all carry one placeholder id; the chat server gives each its own store id.
        model = OpenAIChatCompletionsModel(settings.model, _client(settings, key_required=False))
    if embed is not None and settings.check_grounding:
        return GroundedModel(model, offline_tool, embed)
    return model
