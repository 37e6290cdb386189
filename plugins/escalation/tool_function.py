"""The `escalate_to_human` function tool. A module of its own, imported when an agent is built:
the Agents SDK takes a second to import, which plugin loading (every CLI command) must not pay.

No `from __future__ import annotations` here: the SDK reads the tool function's annotations
(`RunContextWrapper`) at runtime, and postponed ones would name a local import it cannot see.
"""

import json
from typing import Any

from agents import FunctionTool, RunContextWrapper, function_tool
from chatkit.agents import AgentContext
from chatkit.types import AssistantMessageItem, UserMessageItem

import deskpilot

from .handoff import hand_over


def _text(item: Any) -> str:
    return " ".join(part.text for part in item.content if hasattr(part, "text")).strip()


def escalate_function(name: str, platform: deskpilot.Platform) -> FunctionTool:
    @function_tool(name_override=name)
    async def escalate_to_human(ctx: RunContextWrapper[Any], reason: str) -> str:
        """Hand this conversation to a human support agent. Use it when the customer asks
        for a person, or when you cannot help. Then tell the customer the returned message.

        Args:
            reason: One sentence for the support agent: what the customer needs.
        """
        chat = ctx.context
        if not isinstance(chat, AgentContext):
            return json.dumps({"escalated": False, "error": "not in a chat conversation"})

        async def history(limit: int) -> list[tuple[str, str]]:
            page = await chat.store.load_thread_items(chat.thread.id, None, limit, "desc",
                                                      chat.request_context)
            roles = {UserMessageItem: "customer", AssistantMessageItem: "assistant"}
            return [(roles[type(item)], _text(item)) for item in reversed(page.data)
                    if type(item) in roles]

        context = chat.request_context
        turn = deskpilot.ChatTurn(
            thread_id=chat.thread.id, user_id=context.user_id, text="",
            metadata=chat.thread.metadata, title=chat.thread.title,
            audience=deskpilot.ToolAudience.CUSTOMER, history=history,
            claims=dict(context.claims), client_address=context.client_address)
        try:
            message = await hand_over(platform, turn, reason)
        except deskpilot.ClientError as refused:  # over the handoff limits
            return json.dumps({"escalated": False, "message_for_customer": refused.message})
        return json.dumps({"escalated": True, "message_for_customer": message})

    return escalate_to_human
