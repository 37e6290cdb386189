"""The `openai` and `openai-compatible` providers against a local fake of each wire format."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents import Agent, OpenAIChatCompletionsModel, Runner
from agents.models.fake_id import FAKE_RESPONSES_ID
from pydantic import SecretStr

from deskpilot import Audience
from deskpilot.core.agent import build_customer_agent, run_config
from deskpilot.core.agent.grounding import GroundedModel
from deskpilot.core.agent.providers import MeteredModel
from deskpilot.core.app import create_app
from deskpilot.core.chat.runtime import build_chat
from deskpilot.core.config import ConfigError
from deskpilot.core.services import Services
from tests.core.chat.protocol import ChatClient, Turn

from .conftest import NO_TRACES, StubSearcher, configure_provider, run_agent
from .fake_openai import FakeOpenAI

pytestmark = pytest.mark.anyio

QUESTION = "How do I reset my password?"
SEARCH = ("tool", "search_knowledge", json.dumps({"query": "reset password"}))
# An answer the passages support (conftest's reset-password article says it).
GROUNDED = "Open the sign-in page and choose Forgot password."


def _tool_output(request: dict[str, Any]) -> dict[str, Any]:
    """The search result the SDK sent back to the model, from either API's request body."""
    items = request.get("input") or request.get("messages")
    [out] = [i for i in items if i.get("type") == "function_call_output" or i.get("role") == "tool"]
    return json.loads(out.get("output") or out.get("content"))


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_responses_tool_call_then_text(services: Services, searcher: StubSearcher,
                                                    stream: bool) -> None:
    services.migrate()
    with FakeOpenAI([SEARCH, ("text", "Choose Forgot password on the sign-in page.")]) as fake:
        configure_provider(services, "openai", fake.url)
        result = await run_agent(build_customer_agent(services), QUESTION, stream)

    assert result.final_output == "Choose Forgot password on the sign-in page."
    assert [path for path, _ in fake.requests] == ["/v1/responses", "/v1/responses"]
    assert all(body.get("stream", False) == stream for _, body in fake.requests)
    assert searcher.calls[0][0] == "reset password"
    assert searcher.calls[0][2].audience == Audience.PUBLIC
    titles = [p["title"] for p in _tool_output(fake.requests[1][1])["passages"]]
    assert "Password reset escalations" not in titles  # the internal passage
    assert titles[0] == "Reset your password"
    [day] = services.budget.by_day()  # the Responses API's usage, streamed or not
    assert (day.requests, day.input_tokens, day.output_tokens) == (2, 20, 10)


def test_openai_provider_traces_without_conversation_text(services: Services) -> None:
    services.settings.agent.provider = "openai"
    services.settings.agent.api_key = SecretStr("sk-test")
    config = run_config(services.settings.agent, "test")
    assert not config.tracing_disabled and not config.trace_include_sensitive_data


def test_openai_compatible_needs_a_base_url(services: Services) -> None:
    services.settings.agent.provider = "openai-compatible"
    with pytest.raises(ConfigError, match="agent.base_url"):
        build_customer_agent(services)


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_completions_tool_call_then_text(services: Services, searcher: StubSearcher,
                                                    stream: bool) -> None:
    services.migrate()
    with FakeOpenAI([SEARCH, ("text", GROUNDED)]) as fake:
        configure_provider(services, "openai-compatible", fake.url)
        agent = build_customer_agent(services)
        # The provider's model, its answers checked against the passages (test_grounding.py).
        assert isinstance(agent.model, GroundedModel)
        assert isinstance(agent.model.inner, MeteredModel)  # counted before it is checked
        assert isinstance(agent.model.inner.inner, OpenAIChatCompletionsModel)
        if stream:
            result = Runner.run_streamed(agent, QUESTION,
                                         run_config=run_config(services.settings.agent, "test"))
            async for _ in result.stream_events():
                pass
        else:
            result = await Runner.run(agent, QUESTION,
                                      run_config=run_config(services.settings.agent, "test"))

    assert result.final_output == GROUNDED
    assert [path for path, _ in fake.requests] == ["/v1/chat/completions"] * 2
    assert _tool_output(fake.requests[1][1])["passages"][0]["title"] == "Reset your password"
    # Both calls' tokens are recorded, streamed too: the run asks for them.
    assert all(body.get("stream_options") == ({"include_usage": True} if stream else None)
               for _, body in fake.requests)
    [day] = services.budget.by_day()
    assert (day.requests, day.input_tokens, day.output_tokens) == (2, 20, 10)


def _two_chat_turns(services: Services, provider: str, turns: list[tuple[str, ...]]
                    ) -> tuple[ChatClient, FakeOpenAI, Turn, Turn]:
    """A new thread, then a second message on it: two POST /chatkit through the chat server."""
    services.migrate()
    app = create_app(services=services)
    with FakeOpenAI(turns) as fake:
        configure_provider(services, provider, fake.url)
        services.run_config = lambda workflow: NO_TRACES  # type: ignore[method-assign]
        app.state.chat = build_chat(services, build_customer_agent)
        client = ChatClient(app)
        first = client.create(QUESTION)
        second = client.add_message(first.thread_id, "And if the link expired?")
    return client, fake, first, second


@pytest.mark.parametrize("provider", ["openai", "openai-compatible"])
def test_second_chat_turn_replays_the_first_answer(services: Services, provider: str) -> None:
    """The history of a later turn must hold the earlier answer in a form both APIs accept
    (Chat Completions rejected ChatKit's `output_text` parts and the turn failed)."""
    later = "We email you a reset link that stays valid for 30 minutes."
    turns = [SEARCH, ("text", GROUNDED), SEARCH, ("text", later)]
    _, fake, first, second = _two_chat_turns(services, provider, turns)

    assert first.assistant_text == GROUNDED
    assert second.assistant_text == later
    body = fake.requests[2][1]  # the second turn's first request
    history = body.get("input") or body.get("messages")
    assert [m["content"] for m in history if m.get("role") == "assistant"] == [GROUNDED]


def test_chat_completions_messages_get_distinct_chatkit_item_ids(services: Services) -> None:
    """chatkit-python #36: Chat Completions gives every message the same placeholder id and
    ChatKit stores items by id, so each reply replaced the last. The chat server renames them."""
    turns = [SEARCH, ("text", "First answer."), SEARCH, ("text", "Second answer.")]
    client, _, first, second = _two_chat_turns(services, "openai-compatible", turns)

    done = [item for turn in (first, second) for item in turn.done_items
            if item["type"] == "assistant_message"]
    assert [m["content"][0]["text"] for m in done] == ["First answer.", "Second answer."]
    ids = [m["id"] for m in done]
    assert len(set(ids)) == 2 and FAKE_RESPONSES_ID not in ids
    # Streamed deltas name the same item the finished message is stored under.
    updates = [e for turn in (first, second) for e in turn.of_type("thread.item.updated")]
    assert {e["item_id"] for e in updates} == set(ids)
    stored = client.list_items(first.thread_id, order="asc")["data"]
    assert [i["id"] for i in stored if i["type"] == "assistant_message"] == ids


async def test_a_call_whose_usage_cannot_be_recorded_still_answers(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    # Not migrated: the model_usage table is missing, as in a database outage.
    with FakeOpenAI([("text", GROUNDED)]) as fake:
        configure_provider(services, "openai-compatible", fake.url)
        result = await Runner.run(Agent(name="plain", model=services.model()), QUESTION,
                                  run_config=NO_TRACES)
    assert result.final_output == GROUNDED
    assert "could not record the usage of a gpt-4.1-mini call" in caplog.text
