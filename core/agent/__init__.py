"""The customer-facing agent: instructions, model and the tools customers may reach.

The chat server builds one per turn with `build_customer_agent(services, context)` and runs it
with `run_config(services)`.
"""

from __future__ import annotations

from typing import Any

from agents import Agent, FunctionTool, RunConfig, set_tracing_export_api_key
from agents.models.interface import Model
from deskpilot.core.agent.providers import make_model
from deskpilot.core.services import Services
from deskpilot.core.tools import AgentTool, ToolAudience

__all__ = ["build_customer_agent", "customer_tools", "run_config"]


def _model(services: Services) -> Model:
    return make_model(services.settings.agent)


def customer_tools(services: Services) -> list[FunctionTool]:
    """Function tools of every CUSTOMER-audience plugin tool. AGENT tools (internal knowledge,
    helpdesk write-back) are left out here, whatever else a plugin registers."""
    tools: list[FunctionTool] = []
    for cls in services.plugins.tools.values():
        if issubclass(cls, AgentTool) and cls.audience == ToolAudience.CUSTOMER:
            tools.append(cls(services).function_tool())
    return tools


def _customer_tools(services: Services) -> list[FunctionTool]:
    # Built once per platform: building a FunctionTool parses its signature and docstring
    # (~2 ms of event-loop CPU per turn), and a tool keeps no per-turn state.
    return list(services.shared(customer_tools))


def build_customer_agent(services: Services, context: Any = None) -> Agent[Any]:
    """The agent that answers customers in chat.

    `context` is the chat request context; the agent's setup does not depend on it today, and
    tools read per-request data from the run context instead.
    """
    settings = services.settings.agent
    return Agent(
        name=settings.name,
        instructions=settings.instructions.replace("{company}", settings.company),
        # One model (and so one HTTP connection pool) per platform, not one per chat turn.
        model=services.shared(_model),
        tools=_customer_tools(services),
    )


def run_config(services: Services) -> RunConfig:
    """Tracing uploads to OpenAI, so it is on only for the OpenAI provider with a key; it never
    includes conversation text (customers' messages stay on this server)."""
    settings = services.settings.agent
    tracing = settings.provider == "openai" and settings.api_key is not None
    if tracing:
        # The exporter reads $OPENAI_API_KEY by default; the configured key may live elsewhere.
        set_tracing_export_api_key(settings.api_key.get_secret_value())
    return RunConfig(tracing_disabled=not tracing, trace_include_sensitive_data=False,
                     workflow_name="Deskpilot customer chat")
