"""The agent-tool contract: a plugin contributes function tools with an audience.

CUSTOMER tools may be given to the customer-facing agent; AGENT tools only to the copilot used
by human support agents. The customer agent never receives an AGENT tool.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from deskpilot._platform import Platform


#: A valid tool name: what every model provider accepts as a function name (OpenAI's rule).
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class ToolAudience(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


class AgentTool(ABC):
    name: ClassVar[str]
    audience: ClassVar[ToolAudience]
    #: For the offline model (no LLM): the tool it asks with the customer's whole message as the
    #: tool's one string argument, and whose passages (`passages_json`) it answers from — what a
    #: knowledge search is. At most one customer tool should say so.
    offline_default: ClassVar[bool] = False
    #: Whether staff chats (the copilot) get this CUSTOMER tool too: False for a tool that
    #: only makes sense for a customer (handing the conversation to a person).
    for_staff: ClassVar[bool] = True
    #: For the offline model: customer questions this tool answers ("Where is my order 12345?")
    #: and, per argument, a regular expression finding its value in a message. It calls the
    #: tool when a message matches an example closely and every argument is found.
    examples: ClassVar[tuple[str, ...]] = ()
    argument_patterns: ClassVar[dict[str, str]] = {}

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    @abstractmethod
    def function_tool(self) -> Any:
        """Return an `agents.FunctionTool` (e.g. made with `agents.function_tool`)."""
