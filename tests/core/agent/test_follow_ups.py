"""A follow-up is searched with the question before it when it finds nothing alone (was: "how
long are they kept?" after "Where can I download my invoices?" got the hand-over) or names its
subject only by pointing back (was: "how long does that take?" after a rollback question quoted
the custom-domain article)."""

from __future__ import annotations

import json

import pytest
from agents import Agent, RunConfig, Runner

from deskpilot.core.agent.follow_ups import earlier_question, is_follow_up
from deskpilot.core.agent.language import OFFLINE_TEXTS

NO_TRACE = RunConfig(tracing_disabled=True)
HANDOVER = OFFLINE_TEXTS["en"]["handover"]


async def _conversation(agent: Agent, *messages: str) -> tuple[str, int]:
    """The last answer, and how many knowledge searches its turn made."""
    items: list = []
    for message in messages:
        result = await Runner.run(agent, [*items, {"role": "user", "content": message}],
                                  run_config=NO_TRACE)
        items = result.to_input_list()
    searches = [item for item in result.new_items if item.type == "tool_call_item"]
    return result.final_output, len(searches)


@pytest.mark.anyio
async def test_a_follow_up_is_answered_with_the_question_before_it(demo_agent: Agent) -> None:
    answer, searches = await _conversation(
        demo_agent, "Where can I download my invoices?", "how long are they kept?")
    assert answer.startswith("Find past invoices\nInvoices are kept for as long as your account")
    assert "(Source: Download invoices and receipts)" in answer and searches == 2


@pytest.mark.anyio
async def test_a_follow_up_the_knowledge_answers_alone_is_searched_once(
        demo_agent: Agent) -> None:
    answer, searches = await _conversation(
        demo_agent, "How do I connect a custom domain?", "what about a wildcard domain?")
    assert "DNS-01 challenge" in answer and searches == 1


@pytest.mark.anyio
@pytest.mark.parametrize(("question", "follow_up", "source"), [
    # Alone, it quotes the custom-domain article's "How long does it take?".
    ("How do I roll back a deployment?", "how long does that take?",
     "Roll back to a previous deployment"),
    # Alone, it finds nothing to quote.
    ("How do I set environment variables?", "are they encrypted?",
     "Environment variables and secrets"),
])
async def test_a_follow_up_that_points_back_is_answered_on_the_conversations_subject(
        demo_agent: Agent, question: str, follow_up: str, source: str) -> None:
    answer, searches = await _conversation(demo_agent, question, follow_up)
    assert answer.find("(Source:") == answer.index(f"(Source: {source})") and searches == 2


@pytest.mark.anyio
async def test_a_follow_up_that_points_back_makes_both_searches_in_one_step(
        demo_agent: Agent) -> None:
    # As a model's parallel tool calls: the searches run at once, the turn has one step less.
    items = (await Runner.run(demo_agent, "How do I roll back a deployment?",
                              run_config=NO_TRACE)).to_input_list()
    result = await Runner.run(
        demo_agent, [*items, {"role": "user", "content": "how long does that take?"}],
        run_config=NO_TRACE)
    first, answer = result.raw_responses
    queries = [json.loads(call.arguments)["query"] for call in first.output]
    assert queries == ["how long does that take?",
                       "How do I roll back a deployment? how long does that take?"]
    assert [item.type for item in answer.output] == ["message"]
    assert "(Source: Roll back to a previous deployment)" in result.final_output


@pytest.mark.anyio
async def test_a_follow_up_that_points_back_keeps_its_own_answer_on_the_same_subject(
        demo_agent: Agent) -> None:
    # Found with the invitation question, "Invite team members" comes first; alone, "Roles
    # and permissions" (which says who sees billing), with the invitation article beside it.
    answer, searches = await _conversation(
        demo_agent, "How do I invite a teammate?", "can they see billing?")
    assert answer.find("(Source:") == answer.index("(Source: Roles and permissions)")
    assert searches == 2


@pytest.mark.anyio
async def test_a_change_of_subject_is_not_answered_with_the_earlier_topic(
        demo_agent: Agent) -> None:
    # Searched with "How do I reset my password?", the password article comes back, but it
    # says nothing of the weather: the first search's hand-over stands.
    answer, searches = await _conversation(
        demo_agent, "How do I reset my password?", "and what about the weather in Paris?")
    assert answer == HANDOVER and searches == 2
    answer, searches = await _conversation(demo_agent, "what about the weather in Paris?")
    assert answer == HANDOVER and searches == 1  # no question before it


@pytest.mark.parametrize(("message", "follows_up"), [
    ("and the SSL certificate?", True), ("how long are they kept?", True),
    ("und die Rechnung?", True), ("et pour les factures ?", True),
    ("does the old one stop working right away?", True), ("can I add a second one?", True),
    ("one hour or one day?", False),
    ("How do I reset my password?", False), ("e-mail not arriving", False),
    ("and then I clicked the link in the email but the page said it had expired", False),
])
def test_what_reads_as_a_follow_up(message: str, follows_up: bool) -> None:
    assert is_follow_up(message) is follows_up


def test_the_earlier_question_passes_over_small_talk() -> None:
    messages = [("user", "Where can I download my invoices?"), ("assistant", "Go to…"),
                ("user", "thanks!"), ("assistant", "You're welcome!"),
                ("user", "how long are they kept?")]
    assert earlier_question(messages) == "Where can I download my invoices?"
    assert earlier_question([("user", "how long are they kept?")]) is None
