"""Built-in customer tool: search the public knowledge base.

The audience filter is fixed here, not a tool argument: whatever the model asks for, the customer
agent can only ever read PUBLIC passages (internal notes stay with the agent-side copilot).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from agents import FunctionTool, function_tool

import deskpilot

# Passages handed to the model per search: enough to cite two sources, short enough to read.
RESULTS = 4
_PUBLIC_ONLY = deskpilot.SearchFilter(audience=deskpilot.Audience.PUBLIC)


class SearchKnowledge(deskpilot.AgentTool):
    name: ClassVar[str] = "search_knowledge"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.CUSTOMER

    def search(self, query: str) -> str:
        """Run the public-only search and return the tool's JSON result."""
        passages = self.services.searcher.search(
            query, RESULTS, filter=_PUBLIC_ONLY, per_document=True
        )
        return deskpilot.passages_json(passages)

    def function_tool(self) -> FunctionTool:
        @function_tool(name_override=self.name)
        async def search_knowledge(query: str) -> str:
            """Search the help center for articles and solved questions that answer the customer.

            Args:
                query: What to look for, in the customer's words.
            """
            # Embedding the query is CPU work; keep it off the event loop serving other chats.
            executor = self.services.query_executor
            return await asyncio.get_running_loop().run_in_executor(executor, self.search, query)

        return search_knowledge


@deskpilot.hookimpl
def register_tools(register: Any) -> None:
    register(SearchKnowledge)
