"""The monthly budget end to end, through POST /chatkit: an LLM (the local fake of the OpenAI
API, reporting 10 input and 5 output tokens per call) answers until the month's estimated cost
reaches `[agent] monthly_budget`; the next turn is the offline model's (or a person's), the
operators' log line comes once, and /metrics shows the tokens, the cost and the switch."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from deskpilot.core.app import create_app
from deskpilot.core.services import Services
from deskpilot.plugins.escalation.outbox import EscalationOutbox
from deskpilot.plugins.escalation.phrases import MESSAGES
from tests.core.agent.fake_openai import FakeOpenAI
from tests.core.test_metrics import samples, value
from tests.plugins.support_fakes import ADMIN, Chat, make_services

ASK_EMAIL = MESSAGES["en"]["ask_email"]

SEARCH = ("tool", "search_knowledge", json.dumps({"query": "reset password"}))
LLM_ANSWER = "Open the sign-in page and choose Forgot password."
# 10 input tokens at 1000 and 5 output tokens at 2000 per million: 0.02 per call, so the first
# turn (a search, then the answer) costs 0.04 and spends a budget of 0.03.
PRICE = {"input": 1000.0, "output": 2000.0}
CALL_COST = 0.02


def _services(tmp_path: Path, url: str, **agent: object) -> Services:
    return make_services(tmp_path, "local", agent={
        "provider": "openai-compatible", "model": "gpt-test", "base_url": url,
        "api_key": "test-key", "check_grounding": False, "prices": {"gpt-test": PRICE},
        "monthly_budget": 0.03, **agent})


def _reached(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "model budget reached" in r.getMessage()]


def test_once_the_budget_is_spent_the_offline_model_answers(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="deskpilot.core.budget")
    with FakeOpenAI([SEARCH, ("text", LLM_ANSWER)]) as fake:
        services = _services(tmp_path, fake.url)
        chat = Chat(create_app(services=services))
        with chat.http:
            first = chat.send("How do I reset my password?")
            assert first.assistant_text == LLM_ANSWER
            assert len(fake.requests) == 2 and len(_reached(caplog)) == 1
            status = services.budget_status()
            assert status.active and status.spent == pytest.approx(2 * CALL_COST)

            second = chat.send("And if the reset link expired?", first.thread_id)
            third = chat.send("How do I reset my password?")
            found = samples(chat.http, ADMIN)
    assert len(fake.requests) == 2  # the LLM was not asked again
    # The offline model's extractive answer, cited from the passages the search returned.
    assert second.status == 200 and "reset link" in second.assistant_text
    assert third.status == 200 and "Forgot password" in third.assistant_text
    [line] = _reached(caplog)
    assert "0.04 USD spent" in line and "monthly budget of 0.03 USD" in line
    assert "offline model" in line

    usage = services.budget.conversation(first.thread_id)
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 20, 10)
    assert services.budget.conversation(third.thread_id).requests == 0
    assert value(found, "deskpilot_model_tokens_total", model="gpt-test", kind="input") == 20
    assert value(found, "deskpilot_model_tokens_total", model="gpt-test", kind="output") == 10
    assert value(found, "deskpilot_model_cost_total", model="gpt-test") == pytest.approx(0.04)
    assert value(found, "deskpilot_model_spend_this_month") == pytest.approx(0.04)
    assert value(found, "deskpilot_model_monthly_budget") == pytest.approx(0.03)
    assert value(found, "deskpilot_model_budget_exceeded") == 1
    assert value(found, "deskpilot_chat_turns_total", audience="customer",
                 answered_by="agent") == 3
    assert value(found, "deskpilot_chat_first_word_seconds_count", audience="customer") == 3
    assert value(found, "deskpilot_tool_calls_total", tool="search_knowledge") == 3


def test_over_budget_handover_gives_the_conversation_to_a_person(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="deskpilot.core.budget")
    with FakeOpenAI([SEARCH, ("text", LLM_ANSWER)]) as fake:
        services = _services(tmp_path, fake.url, over_budget="handover")
        chat = Chat(create_app(services=services))
        with chat.http:
            first = chat.send("How do I reset my password?")
            assert first.assistant_text == LLM_ANSWER
            asked = chat.send("And if the reset link expired?", first.thread_id)
            assert asked.assistant_text == ASK_EMAIL  # an anonymous visitor: an address first
            handed = chat.send("ana@example.com", first.thread_id)
            found = samples(chat.http, ADMIN)
    assert len(fake.requests) == 2
    assert "passed this conversation to our support team" in handed.assistant_text
    [row] = EscalationOutbox(services).list()
    assert row.thread_id == first.thread_id and row.ticket_ref
    assert value(found, "deskpilot_escalations_total") == 1
    [line] = _reached(caplog)
    assert "hands conversations to a person" in line
