"""What a hand-over leaves in the knowledge-gap report and the dashboard's rates: a request for
a person is not a question the knowledge missed, and the plugin's own prompts on the way to the
hand-over (the email question) are not AI answers without a source."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from deskpilot.core.app import create_app
from deskpilot.core.dashboard.figures import rates
from deskpilot.core.gaps import chat_gap_questions
from deskpilot.plugins.escalation.phrases import MESSAGES, only_requested
from tests.plugins.support_fakes import ADMIN, Chat, make_services

ASK_EMAIL = MESSAGES["en"]["ask_email"]
BAD_EMAIL = MESSAGES["en"]["bad_email"]

HANDOFF_TEXT = "I'd like to talk to a person"  # what the widget's button sends


def _gaps(services: object) -> dict[str, list[str]]:
    now = datetime.now()
    return {q.text: q.reasons for q in chat_gap_questions(
        services, now - timedelta(days=1), now + timedelta(minutes=1))}  # type: ignore[arg-type]


def test_asking_for_a_person_then_an_email_is_no_gap_and_no_unsourced_answer(
        tmp_path: Path) -> None:
    services = make_services(tmp_path, "local")
    app = create_app(services=services)
    chat = Chat(app)  # an anonymous visitor: asked for an email address first
    first = chat.send(HANDOFF_TEXT)
    assert first.assistant_text == ASK_EMAIL
    typo = chat.send("ana at example", first.thread_id)
    assert typo.assistant_text.startswith(BAD_EMAIL.split("(")[0])
    handed = chat.send("ana@example.com", first.thread_id)
    assert "passed this conversation to our support team" in handed.assistant_text

    assert _gaps(services) == {}
    total = rates(services.engine, 1)["total"]
    assert total["conversations"] == total["handed_over"] == 1
    assert total["answers"] == total["low_confidence"] == 0
    assert total["low_confidence_rate"] is None
    # The transcript shows the prompts as the hand-over's, without the "no source" flag.
    page = TestClient(app).get(f"/admin/conversations/{first.thread_id}",
                               headers={"Authorization": f"Bearer {ADMIN}"})
    assert page.status_code == 200
    assert "no source" not in page.text and page.text.count("Assistant (hand-over)") == 3


def test_a_question_before_the_request_is_the_gap_and_the_prompt_is_no_answer(
        tmp_path: Path) -> None:
    services = make_services(tmp_path, "local")
    chat = Chat(create_app(services=services))
    first = chat.send("Is there a student discount?")
    assert first.assistant_text  # the AI answered
    assert chat.send(HANDOFF_TEXT, first.thread_id).assistant_text == ASK_EMAIL
    chat.send("skip", first.thread_id)

    gaps = _gaps(services)
    assert list(gaps) == ["Is there a student discount?"]
    assert "handed_over" in gaps["Is there a student discount?"]
    total = rates(services.engine, 1)["total"]
    assert total["answers"] == 1  # the AI's answer only, not the email prompt


def test_a_request_for_a_person_with_a_question_in_it_stays_a_gap(tmp_path: Path) -> None:
    services = make_services(tmp_path, "local")
    chat = Chat(create_app(services=services))
    asked = "My card was charged twice, can I talk to a person?"
    first = chat.send(asked)
    assert first.assistant_text == ASK_EMAIL
    chat.send("skip", first.thread_id)

    assert _gaps(services) == {asked: ["handed_over"]}
    assert rates(services.engine, 1)["total"]["answers"] == 0


def test_only_a_request_for_a_person_is_told_from_a_request_with_a_question() -> None:
    for text in (HANDOFF_TEXT, "Hi, can I please speak to a human?", "human, please",
                 "Let me chat with an agent now"):
        assert only_requested(text), text
    for text in ("My card was charged twice, can I talk to a person?",
                 "I want to talk to someone about my refund", "How do I reset my password?",
                 "I don't want to talk to a person"):
        assert not only_requested(text), text
