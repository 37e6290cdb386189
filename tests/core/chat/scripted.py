"""A scripted stand-in for the customer agent, so chat tests need no embedding model or LLM.

It answers `echo <n>: <last user text>`, n being the number of user messages it was given, so a
test can see that history reached the model. Every message carries the same placeholder id, as
Chat Completions providers do, to prove the server still stores each message separately.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, ModelResponse, Usage
from agents.models.interface import Model
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)

PLACEHOLDER_ID = "__fake_id__"


def _user_texts(input: str | list[Any]) -> list[str]:
    if isinstance(input, str):
        return [input]
    texts = []
    for item in input:
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                texts.append(content)
            else:
                texts.append("".join(part.get("text", "") for part in content
                                     if part.get("type") == "input_text"))
    return texts


class ScriptedModel(Model):
    def __init__(self) -> None:
        self.inputs: list[Any] = []

    def _message(self, input: str | list[Any]) -> ResponseOutputMessage:
        self.inputs.append(input)
        texts = _user_texts(input)
        text = f"echo {len(texts)}: {texts[-1] if texts else ''}"
        return ResponseOutputMessage(
            type="message", id=PLACEHOLDER_ID, role="assistant", status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )

    @staticmethod
    def _response(message: ResponseOutputMessage) -> Response:
        return Response(id="resp_1", created_at=time.time(), model="scripted", object="response",
                        output=[message], parallel_tool_calls=False, tool_choice="auto",
                        tools=[], status="completed")

    async def get_response(self, system_instructions, input, *args: Any, **kwargs: Any
                           ) -> ModelResponse:
        message = self._message(input)
        return ModelResponse(output=[message], usage=Usage(requests=1), response_id="resp_1")

    async def stream_response(self, system_instructions, input, *args: Any, **kwargs: Any
                              ) -> AsyncIterator[Any]:
        message = self._message(input)
        text = message.content[0].text
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added", sequence_number=0, output_index=0,
            item=message.model_copy(update={"content": [], "status": "in_progress"}))
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added", sequence_number=1, output_index=0,
            item_id=message.id, content_index=0,
            part=ResponseOutputText(type="output_text", text="", annotations=[]))
        for seq, word in enumerate(text.split(" "), start=2):
            yield ResponseTextDeltaEvent(
                type="response.output_text.delta", sequence_number=seq, output_index=0,
                item_id=message.id, content_index=0, delta=word + " ", logprobs=[])
        yield ResponseTextDoneEvent(
            type="response.output_text.done", sequence_number=90, output_index=0,
            item_id=message.id, content_index=0, text=text, logprobs=[])
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done", sequence_number=91, output_index=0, item=message)
        yield ResponseCompletedEvent(type="response.completed", sequence_number=92,
                                     response=self._response(message))


class ScriptedAgent:
    """`build_agent` for `build_chat`, sharing one recording model."""

    def __init__(self) -> None:
        self.model = ScriptedModel()
        self.built_with: list[Any] = []

    def build(self, services: Any, context: Any) -> Agent[Any]:
        self.built_with.append(context)
        return Agent(name="scripted", instructions="Echo.", model=self.model)
