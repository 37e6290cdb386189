"""What the customer agent is built from: configured instructions and CUSTOMER tools only."""

from __future__ import annotations

from typing import Any, ClassVar

from agents import function_tool

import deskpilot
from deskpilot._tools import ToolAudience
from deskpilot.core.agent import build_customer_agent, run_config
from deskpilot.core.agent.offline import OfflineModel
from deskpilot.core.config import Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services


class ReadInternalNotes(deskpilot.AgentTool):
    name: ClassVar[str] = "read_internal_notes"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.AGENT

    def function_tool(self) -> Any:
        @function_tool(name_override=self.name)
        def read_internal_notes(ticket_id: str) -> str:
            """Read a ticket's internal notes."""
            return "secret"

        return read_internal_notes


class InternalToolsPlugin:
    @deskpilot.hookimpl
    def register_tools(self, register: Any) -> None:
        register(ReadInternalNotes)


def test_agent_tools_never_reach_the_customer_agent(settings: Settings) -> None:
    plugins = load_plugins(settings.plugins, extra=[("internal", InternalToolsPlugin())])
    assert plugins.tools["read_internal_notes"].audience == ToolAudience.AGENT
    services = Services(settings, plugins)

    agent = build_customer_agent(services, context=object())

    names = {tool.name for tool in agent.tools}
    assert "search_knowledge" in names
    assert "read_internal_notes" not in names
    for tool in agent.tools:
        assert plugins.tools[tool.name].audience == ToolAudience.CUSTOMER


def test_instructions_name_the_company_and_offline_runs_untraced(services: Services) -> None:
    services.settings.agent.company = "Globex"
    agent = build_customer_agent(services)
    assert "Globex" in agent.instructions and "{company}" not in agent.instructions
    assert isinstance(agent.model, OfflineModel)
    assert run_config(services.settings.agent, "test").tracing_disabled


def test_a_workflows_run_config_is_built_once(services: Services) -> None:
    # Chat turns share it: building one costs ~0.4 ms of event-loop CPU per turn.
    config = services.run_config("Deskpilot customer chat")
    assert services.run_config("Deskpilot customer chat") is config
    assert config.workflow_name == "Deskpilot customer chat" and config.tracing_disabled
    assert services.run_config("another").workflow_name == "another"


def test_denied_search_plugin_leaves_no_tools(settings: Settings) -> None:
    settings.plugins.deny = ["knowledge_search"]
    services = Services(settings, load_plugins(settings.plugins))
    assert "search_knowledge" not in {tool.name for tool in build_customer_agent(services).tools}
