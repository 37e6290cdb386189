"""Offline answers on the demo help center, through its real sync, index and agent."""

from __future__ import annotations

import pytest
from agents import Agent, RunConfig, Runner

NO_TRACE = RunConfig(tracing_disabled=True)


@pytest.mark.anyio
async def test_an_answer_from_a_section_starts_with_the_sections_heading(
        demo_agent: Agent) -> None:
    # Was: "Unlimited apps, preview deployments, …" with the price (the heading) left out.
    result = await Runner.run(demo_agent, "How much is the Pro plan?", run_config=NO_TRACE)
    heading, sentence = result.final_output.splitlines()[:2]
    assert heading == "Pro — 29 USD per member per month"
    assert sentence.startswith("Unlimited apps, preview deployments")
