"""Built-in customer tool: search the public knowledge base.

The audience filter is fixed here, not a tool argument: whatever the model asks for, the customer
agent can only ever read PUBLIC passages (internal notes stay with the agent-side copilot).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import deskpilot

# Passages handed to the model per search: enough to cite two sources, short enough to read.
RESULTS = 4
_PUBLIC_ONLY = deskpilot.SearchFilter(audience=deskpilot.Audience.PUBLIC)


class SearchKnowledge(deskpilot.AgentTool):
    name: ClassVar[str] = "search_knowledge"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.CUSTOMER
    # Without an LLM, the offline model asks this tool with the customer's own words.
    offline_default: ClassVar[bool] = True

    def search(self, query: str) -> str:
        """Run the public-only search and return the tool's JSON result."""
        passages = self.platform.search(query, RESULTS, filter=_PUBLIC_ONLY, per_document=True)
        return deskpilot.passages_json(passages)

    def function_tool(self) -> Any:
        from agents import function_tool

        @function_tool(name_override=self.name)
        async def search_knowledge(query: str) -> str:
            """Search the help center for articles and solved questions that answer the customer.

            Args:
                query: What to look for, in the customer's words.
            """
            return await self.platform.run_blocking(self.search, query, cpu=True)

        return search_knowledge


@deskpilot.hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(SearchKnowledge)
