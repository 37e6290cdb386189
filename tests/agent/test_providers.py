"""The `openai` and `openai-compatible` providers against a local fake of each wire format."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from agents import RunConfig, Runner
from agents.models.fake_id import FAKE_RESPONSES_ID
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.types import Page, ThreadMetadata
from pydantic import SecretStr

from core.agent import build_customer_agent, run_config
from core.agent.providers import UniqueIdChatCompletionsModel
from core.config import ConfigError
from core.services import Services
from deskpilot import Audience

from .conftest import StubSearcher
from .fake_openai import FakeOpenAI

pytestmark = pytest.mark.anyio

QUESTION = "How do I reset my password?"
SEARCH = ("tool", "search_knowledge", json.dumps({"query": "reset password"}))
NO_TRACES = RunConfig(tracing_disabled=True)  # never upload from tests


def _configure(services: Services, provider: str, url: str) -> None:
    services.settings.agent.provider = provider  # type: ignore[assignment]
    services.settings.agent.base_url = url
    services.settings.agent.api_key = SecretStr("test-key")


def _tool_output(request: dict[str, Any]) -> dict[str, Any]:
    """The search result the SDK sent back to the model, from either API's request body."""
    items = request.get("input") or request.get("messages")
    [out] = [i for i in items if i.get("type") == "function_call_output" or i.get("role") == "tool"]
    return json.loads(out.get("output") or out.get("content"))


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_responses_tool_call_then_text(services: Services, searcher: StubSearcher,
                                                    stream: bool) -> None:
    with FakeOpenAI([SEARCH, ("text", "Choose Forgot password on the sign-in page.")]) as fake:
        _configure(services, "openai", fake.url)
        agent = build_customer_agent(services)
        if stream:
            result = Runner.run_streamed(agent, QUESTION, run_config=NO_TRACES)
            deltas = [e.data.delta async for e in result.stream_events()
                      if e.type == "raw_response_event"
                      and e.data.type == "response.output_text.delta"]
            assert "".join(deltas) == result.final_output
        else:
            result = await Runner.run(agent, QUESTION, run_config=NO_TRACES)

    assert result.final_output == "Choose Forgot password on the sign-in page."
    assert [path for path, _ in fake.requests] == ["/v1/responses", "/v1/responses"]
    assert all(body.get("stream", False) == stream for _, body in fake.requests)
    assert searcher.calls[0][0] == "reset password"
    assert searcher.calls[0][2].audience == Audience.PUBLIC
    titles = [p["title"] for p in _tool_output(fake.requests[1][1])["passages"]]
    assert "Password reset escalations" not in titles  # the internal passage
    assert titles[0] == "Reset your password"


def test_openai_provider_traces_without_conversation_text(services: Services) -> None:
    services.settings.agent.provider = "openai"
    services.settings.agent.api_key = SecretStr("sk-test")
    config = run_config(services)
    assert not config.tracing_disabled and not config.trace_include_sensitive_data


def test_openai_compatible_needs_a_base_url(services: Services) -> None:
    services.settings.agent.provider = "openai-compatible"
    with pytest.raises(ConfigError, match="agent.base_url"):
        build_customer_agent(services)


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_completions_tool_call_then_text(services: Services, searcher: StubSearcher,
                                                    stream: bool) -> None:
    with FakeOpenAI([SEARCH, ("text", "Use the Forgot password link.")]) as fake:
        _configure(services, "openai-compatible", fake.url)
        agent = build_customer_agent(services)
        assert isinstance(agent.model, UniqueIdChatCompletionsModel)
        if stream:
            result = Runner.run_streamed(agent, QUESTION, run_config=run_config(services))
            async for _ in result.stream_events():
                pass
        else:
            result = await Runner.run(agent, QUESTION, run_config=run_config(services))

    assert result.final_output == "Use the Forgot password link."
    assert [path for path, _ in fake.requests] == ["/v1/chat/completions"] * 2
    assert _tool_output(fake.requests[1][1])["passages"][0]["title"] == "Reset your password"
    ids = [item.raw_item.id for item in result.new_items
           if item.type in ("tool_call_item", "message_output_item")]
    assert all(i and i != FAKE_RESPONSES_ID for i in ids) and len(set(ids)) == len(ids)


class _EmptyStore:
    """What stream_agent_response asks of a store here: the thread's last items (none yet) and
    ids for workflow items."""

    async def load_thread_items(self, *args: Any) -> Page[Any]:
        return Page(data=[], has_more=False, after=None)

    def generate_item_id(self, item_type: str, thread: Any, context: Any) -> str:
        return f"{item_type}_test"


async def test_chat_completions_messages_get_distinct_chatkit_item_ids(services: Services) -> None:
    """chatkit-python #36: every reply carried the same placeholder id and replaced the last."""
    turns = [SEARCH, ("text", "First answer."), SEARCH, ("text", "Second answer.")]
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    done: list[Any] = []
    updated_ids: list[str] = []
    with FakeOpenAI(turns) as fake:
        _configure(services, "openai-compatible", fake.url)
        agent = build_customer_agent(services)
        history: list[Any] = []
        for question in (QUESTION, "And if the link expired?"):
            history.append({"role": "user", "content": question})
            context = AgentContext(thread=thread, store=_EmptyStore(), request_context=None)
            result = Runner.run_streamed(agent, history, context=context,
                                         run_config=run_config(services))
            async for event in stream_agent_response(context, result):
                if event.type == "thread.item.done" and event.item.type == "assistant_message":
                    done.append(event.item)
                elif event.type == "thread.item.updated":
                    updated_ids.append(event.item_id)
            history.append({"role": "assistant", "content": result.final_output})

    assert [m.content[0].text for m in done] == ["First answer.", "Second answer."]
    first, second = (m.id for m in done)
    assert first != second and FAKE_RESPONSES_ID not in (first, second)
    # Streamed deltas name the same item the finished message is stored under.
    assert set(updated_ids) == {first, second}
