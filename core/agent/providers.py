"""Model providers: `offline` (built in), `openai` (Responses API), `openai-compatible` (Chat
Completions against any base URL: vLLM, Ollama, llama.cpp server, LiteLLM).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from agents import ModelResponse, OpenAIChatCompletionsModel, OpenAIResponsesModel
from agents.models.fake_id import FAKE_RESPONSES_ID
from agents.models.interface import Model
from openai import AsyncOpenAI

from core.agent.offline import OfflineModel
from core.config import AgentSettings, ConfigError

# Network hygiene for hosted and self-hosted endpoints alike.
TIMEOUT_SECONDS = 60.0
MAX_RETRIES = 3
# Local OpenAI-compatible servers usually ignore the key, but the client insists on one.
_NO_KEY = "not-needed"

_PREFIXES = {"message": "msg", "function_call": "fc", "reasoning": "rs"}


class _FreshIds:
    """Replaces the SDK's placeholder item id with a fresh id per output item of one response.

    Chat Completions has no item ids, so the SDK labels every item `__fake_id__`; ChatKit reuses
    item ids as thread item ids, so without this each reply overwrites the previous one
    (chatkit-python issue #36). Stream events name items by output_index, the final response by
    position and call_id; both must map to the same new id.
    """

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], str] = {}
        self._key_at: dict[int, tuple[str, str]] = {}

    def _id_for(self, key: tuple[str, str]) -> str:
        if key not in self._by_key:
            self._by_key[key] = f"{_PREFIXES.get(key[0], 'item')}_{uuid.uuid4().hex}"
        return self._by_key[key]

    @staticmethod
    def _key(item: Any) -> tuple[str, str]:
        # One message/reasoning item per completion; function calls are told apart by call_id.
        return (item.type, getattr(item, "call_id", None) or "")

    def item(self, item: Any, output_index: int | None = None) -> Any:
        if getattr(item, "id", None) != FAKE_RESPONSES_ID:
            return item
        key = self._key(item)
        if output_index is not None:
            self._key_at[output_index] = key
        return item.model_copy(update={"id": self._id_for(key)})

    def event(self, event: Any) -> Any:
        output_index = getattr(event, "output_index", None)
        item = getattr(event, "item", None)
        if item is not None:
            return event.model_copy(update={"item": self.item(item, output_index)})
        if getattr(event, "item_id", None) == FAKE_RESPONSES_ID and output_index in self._key_at:
            return event.model_copy(update={"item_id": self._id_for(self._key_at[output_index])})
        response = getattr(event, "response", None)
        if event.type == "response.completed" and response is not None:
            output = [self.item(item) for item in response.output]
            return event.model_copy(update={"response": response.model_copy(
                update={"output": output})})
        return event


class UniqueIdChatCompletionsModel(OpenAIChatCompletionsModel):
    """Chat Completions with a fresh id for every output item (see _FreshIds)."""

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        response = await super().get_response(*args, **kwargs)
        ids = _FreshIds()
        response.output = [ids.item(item) for item in response.output]
        return response

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        ids = _FreshIds()
        async for event in super().stream_response(*args, **kwargs):
            yield ids.event(event)


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


def make_model(settings: AgentSettings) -> Model:
    """The model for the configured provider. Raises ConfigError for an unusable setup."""
    if settings.provider == "offline":
        return OfflineModel()
    if settings.provider == "openai":
        return OpenAIResponsesModel(settings.model, _client(settings, key_required=True))
    if not settings.base_url:
        raise ConfigError("agent.base_url: required for provider openai-compatible")
    return UniqueIdChatCompletionsModel(settings.model, _client(settings, key_required=False))
