"""The agent-tool contract: a plugin contributes function tools with an audience.

CUSTOMER tools may be given to the customer-facing agent; AGENT tools only to the copilot used
by human support agents. The customer agent never receives an AGENT tool.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum
from typing import Any, ClassVar


class ToolAudience(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


class AgentTool(ABC):
    name: ClassVar[str]
    audience: ClassVar[ToolAudience]

    def __init__(self, services: Any) -> None:
        # The running platform's services (search, store, connectors); see core.services.
        self.services = services

    @abstractmethod
    def function_tool(self) -> Any:
        """Return an `agents.FunctionTool` (e.g. made with `agents.function_tool`)."""
