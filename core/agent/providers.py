"""Model providers: `offline` (built in), `openai` (Responses API), `openai-compatible` (Chat
Completions against any base URL: vLLM, Ollama, llama.cpp server, LiteLLM).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agents import ModelResponse, OpenAIChatCompletionsModel, OpenAIResponsesModel
from agents.models.interface import Model, ModelTracing
from openai import AsyncOpenAI
from openai.types.responses import ResponseCompletedEvent, ResponseStreamEvent

from deskpilot.core.agent.grounding import Embed, GroundedModel
from deskpilot.core.agent.offline import OfflineModel
from deskpilot.core.agent.offline_tools import OfflineTrigger
from deskpilot.core.config import AgentSettings, ConfigError
from deskpilot.knowledge.index.calibration import UNCALIBRATED_WEIGHT

# Network hygiene for hosted and self-hosted endpoints alike.
TIMEOUT_SECONDS = 60.0
MAX_RETRIES = 3
# Local OpenAI-compatible servers usually ignore the key, but the client insists on one.
_NO_KEY = "not-needed"

log = logging.getLogger(__name__)

#: (model name, input tokens, output tokens) -> awaitable: where a metered model reports a call.
RecordUsage = Callable[[str, int, int], Awaitable[None]]


class MeteredModel(Model):
    """Reports the tokens of every call of an LLM (`record`), streamed or not, as the provider
    counted them: `usage` of the Responses API, or the Chat Completions usage the Agents SDK
    converts to it (streamed only when the server honours `stream_options.include_usage`)."""

    def __init__(self, inner: Model, name: str, record: RecordUsage) -> None:
        self.inner = inner
        self.name = name
        self.record = record

    async def _report(self, input_tokens: int, output_tokens: int) -> None:
        try:
            await self.record(self.name, input_tokens, output_tokens)
        except Exception:  # cost accounting must never fail a customer's turn
            log.exception("could not record the usage of a %s call", self.name)

    async def get_response(self, system_instructions: str | None, input: str | list[Any],
                           model_settings: Any, tools: list[Any], output_schema: Any,
                           handoffs: list[Any], tracing: ModelTracing, **kwargs: Any
                           ) -> ModelResponse:
        response = await self.inner.get_response(system_instructions, input, model_settings,
                                                 tools, output_schema, handoffs, tracing,
                                                 **kwargs)
        await self._report(response.usage.input_tokens, response.usage.output_tokens)
        return response

    async def stream_response(self, system_instructions: str | None, input: str | list[Any],
                              model_settings: Any, tools: list[Any], output_schema: Any,
                              handoffs: list[Any], tracing: ModelTracing, **kwargs: Any
                              ) -> AsyncIterator[ResponseStreamEvent]:
        async for event in self.inner.stream_response(
                system_instructions, input, model_settings, tools, output_schema, handoffs,
                tracing, **kwargs):
            if isinstance(event, ResponseCompletedEvent):
                usage = event.response.usage
                await self._report(usage.input_tokens if usage else 0,
                                   usage.output_tokens if usage else 0)
            yield event


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
               embed: Embed | None = None, record: RecordUsage | None = None,
               lexical_weight: Callable[[], float] = lambda: UNCALIBRATED_WEIGHT) -> Model:
    """The model for the configured provider. Raises ConfigError for an unusable setup.
    `offline_tool`: the knowledge search the offline model asks (a tool's `offline_default`);
    `offline_triggers`: the tools it calls when a message matches their examples.
    `embed`: the knowledge embedder; with it, an LLM's turns are checked against the passages
    (grounding.py) unless `agent.check_grounding` is off. `record`: told the tokens of every
    LLM call (core/budget.py), before grounding may replace an answer. `lexical_weight`: the
    knowledge searcher's current λ, which the extractive answer rule reads its scores with."""
    if settings.provider == "offline":
        return OfflineModel(offline_tool, offline_triggers, lexical_weight)
    model: Model
    if settings.provider == "openai":
        model = OpenAIResponsesModel(settings.model, _client(settings, key_required=True))
    elif not settings.base_url:
        raise ConfigError("agent.base_url: required for provider openai-compatible")
    else:
        # Its messages all carry one placeholder id; the chat server gives each its own store id.
        model = OpenAIChatCompletionsModel(settings.model, _client(settings, key_required=False))
    if record is not None:
        model = MeteredModel(model, settings.model, record)
    if embed is not None and settings.check_grounding:
        return GroundedModel(model, offline_tool, embed, lexical_weight)
    return model
