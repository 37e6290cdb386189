"""The customer-facing agent: instructions, model and the tools customers may reach.

The chat server builds one per turn with `build_customer_agent(services, context)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents import Agent, ModelSettings, RunConfig, set_tracing_export_api_key

from deskpilot._tools import ToolAudience

if TYPE_CHECKING:
    from deskpilot._chat import RequestContext
    from deskpilot.core.config import AgentSettings
    from deskpilot.core.services import Services

__all__ = ["build_customer_agent", "run_config"]


def build_customer_agent(services: Services, context: RequestContext | None = None
                         ) -> Agent[Any]:
    """The agent that answers customers in chat: CUSTOMER tools only, whatever else plugins
    register (AGENT tools reach internal knowledge and write to the helpdesk).

    `context` is the chat request context; the agent's setup does not depend on it today, and
    tools read per-request data from the run context instead.
    """
    settings = services.settings.agent
    return Agent(
        name=settings.name,
        instructions=settings.instructions.replace("{company}", settings.company)
        .replace("{knowledge_language}", services.knowledge_language()),
        # One model (and so one HTTP connection pool) per platform, not one per chat turn.
        model=services.customer_model(),
        tools=services.function_tools(ToolAudience.CUSTOMER),
    )


def run_config(settings: AgentSettings, workflow: str) -> RunConfig:
    """Tracing uploads to OpenAI, so it is on only for the OpenAI provider with a key; it never
    includes conversation text (customers' messages stay on this server)."""
    tracing = settings.provider == "openai" and settings.api_key is not None
    if tracing:
        # The exporter reads $OPENAI_API_KEY by default; the configured key may live elsewhere.
        set_tracing_export_api_key(settings.api_key.get_secret_value())
    # Streamed Chat Completions report their tokens only when asked to (the official client
    # asks by default, OpenAI-compatible servers must be asked): the cost needs them.
    return RunConfig(tracing_disabled=not tracing, trace_include_sensitive_data=False,
                     workflow_name=workflow, model_settings=ModelSettings(include_usage=True))
