"""A plugin author's customer tool, written with `@deskpilot.tool`: the offline model calls it
when a message matches an example and every argument is found, asks for a missing argument,
and the kit's scripted model and `run_agent` let a test watch the agent call it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import deskpilot
from deskpilot.core.app import create_app
from deskpilot.core.config import Settings
from deskpilot.core.customer_view import CustomerPlatform
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services
from deskpilot.testkit import ScriptedModel, StubPlatform, ToolContract, run_agent
from tests.plugins.helpers import HashEmbedder
from tests.plugins.support_fakes import Chat

seen: list[tuple[str, str, bool, type]] = []


@deskpilot.tool(audience=deskpilot.ToolAudience.CUSTOMER,
                examples=["Where is my order 12345?", "What is the status of order 12345?"],
                arguments={"order_id": r"\b(\d{5,})\b"})
async def order_status(call: deskpilot.ToolCall, order_id: str) -> str:
    """Where a customer's order is.

    Args:
        order_id: The order number.
    """
    seen.append((order_id, call.user_id, call.verified, type(call.platform)))
    await call.progress(f"Looking up order {order_id}…")  # a no-op outside a chat
    return json.dumps({"message": f"Order {order_id} shipped on 2 May."})


class OrderPlugin:
    @deskpilot.hookimpl
    def register_tools(self, register: Any) -> None:
        register(order_status)


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    seen.clear()


class TestOrderStatusContract(ToolContract):
    @pytest.fixture
    def tool(self) -> Any:
        return order_status(StubPlatform())


def test_the_decorator_makes_a_customer_tool_named_after_the_function() -> None:
    assert issubclass(order_status, deskpilot.AgentTool)
    assert order_status.name == "order_status"
    schema = order_status(StubPlatform()).function_tool().params_json_schema
    assert list(schema["properties"]) == ["order_id"]  # the ToolCall is not an argument
    assert schema["properties"]["order_id"]["description"] == "The order number."


def test_a_blocking_function_is_refused_with_the_reason() -> None:
    with pytest.raises(TypeError, match="must be `async def`"):
        @deskpilot.tool
        def blocking(call: deskpilot.ToolCall, order_id: str) -> str:
            return order_id


def test_the_offline_model_calls_the_tool_when_an_example_matches() -> None:
    run = run_agent([order_status(StubPlatform())], "Hi, where is my order 98765 please?")
    assert [(name, args) for name, args, _ in run.calls] == [
        ("order_status", {"order_id": "98765"})]
    assert run.reply == "Order 98765 shipped on 2 May."
    assert seen == [("98765", "user:test", True, StubPlatform)]


def test_the_offline_model_asks_for_a_missing_argument() -> None:
    run = run_agent([order_status(StubPlatform())], "Where is my order?")
    assert run.calls == []
    assert run.reply == "I can look that up for you. What is your order number?"


@pytest.mark.parametrize("message", ["How do I reset my password 12345?",
                                     "I want to cancel my order 12345"])
def test_a_message_not_close_to_an_example_does_not_call_the_tool(message: str) -> None:
    run = run_agent([order_status(StubPlatform())], message)
    assert run.calls == []


def test_the_scripted_model_calls_what_it_is_told() -> None:
    run = run_agent([order_status(StubPlatform())], "anything at all",
                    model=ScriptedModel(("order_status", {"order_id": "777"})),
                    user_id="anon:s1", verified=False)
    assert run.calls == [("order_status", {"order_id": "777"},
                          json.dumps({"message": "Order 777 shipped on 2 May."}))]
    assert seen == [("777", "anon:s1", False, StubPlatform)]


def test_in_the_customer_chat_the_tool_is_called_with_the_customer_view(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    services = Services(settings, load_plugins(settings.plugins,
                                               extra=[("orders", OrderPlugin())]))
    services.__dict__["embedder"] = HashEmbedder()
    services.migrate()
    try:
        chat = Chat(create_app(services=services))
        asked = chat.send("Where is my order?")
        assert asked.assistant_text == "I can look that up for you. What is your order number?"
        answered = chat.send("It is 45678", asked.thread_id)
        assert answered.assistant_text == "Order 45678 shipped on 2 May."
        progress = [e for e in answered.events if e["type"] == "progress_update"]
        assert progress and progress[0]["text"] == "Looking up order 45678…", progress
        [(order, user, verified, platform)] = seen
        assert order == "45678" and user.startswith("anon:") and verified is False
        assert platform is CustomerPlatform
        # A question for the knowledge base still goes to the search.
        other = chat.send("How do I reset my password?")
        assert "order" not in other.assistant_text.lower()
        assert len(seen) == 1
    finally:
        services.close()
