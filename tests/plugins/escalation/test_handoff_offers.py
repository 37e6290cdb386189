"""A bare yes or no that answers the assistant's offer of a person: the hand-over it offered,
not a search for "yes" (was: the offer again, "I couldn't find an answer in our help center")."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskpilot.core.agent.language import OFFLINE_TEXTS
from deskpilot.core.app import create_app
from deskpilot.core.conversations import load_conversations
from deskpilot.plugins.escalation.outbox import EscalationOutbox
from deskpilot.plugins.escalation.phrases import MESSAGES
from tests.plugins.support_fakes import Chat, StubSearcher, make_services

QUESTION = "How do I reset my password?"
HANDED = "passed this conversation to our support team"


def _chat(tmp_path: Path, found: bool = True, **sections: object) -> tuple[Chat, object]:
    searcher = None if found else StubSearcher([])
    services = make_services(tmp_path, "local", searcher=searcher, **sections)
    return Chat(create_app(services=services)), services


@pytest.mark.parametrize(("question", "yes", "language"), [
    ("What's the weather in Paris?", "yes", "en"),
    ("What's the weather in Paris?", "Yes please", "en"),
    ("Wie wird das Wetter morgen in Berlin?", "ja gerne", "de"),
    ("Quel temps fera-t-il demain à Paris ?", "oui", "fr"),
])
def test_yes_to_the_offer_of_a_person_hands_over(tmp_path: Path, question: str, yes: str,
                                                  language: str) -> None:
    chat, services = _chat(tmp_path, found=False)
    offer = chat.send(question)
    assert offer.assistant_text == OFFLINE_TEXTS[language]["handover"]
    assert chat.send(yes, offer.thread_id).assistant_text == MESSAGES[language]["ask_email"]
    handed = chat.send("skip", offer.thread_id).assistant_text
    [row] = EscalationOutbox(services).list()
    assert handed.startswith(MESSAGES[language]["delivered"].split("{ref}")[0])
    assert row.thread_id == offer.thread_id
    assert "Reason: The customer accepted the offer of a person." in row.request["transcript"]


def test_no_to_did_that_answer_your_question_hands_over(tmp_path: Path) -> None:
    chat, services = _chat(tmp_path, escalation={"ask_email": False})
    answer = chat.send(QUESTION)
    assert answer.assistant_text.endswith(OFFLINE_TEXTS["en"]["closing"])
    assert HANDED in chat.send("no", answer.thread_id).assistant_text
    assert len(EscalationOutbox(services).list()) == 1


@pytest.mark.parametrize(("found", "message", "reply"), [
    (True, "yes, thanks!", "welcome"),  # it did answer
    # "Did that answer your question? If not, I can hand you over": a "no thanks" turns the
    # person down (was: handed over, like a bare "no").
    (True, "no thanks", "declined"),
    (True, "No thank you.", "declined"),
    (True, "no need", "declined"),
    (False, "no", "declined"),  # no person, thank you
    (False, "thanks", "welcome"),
])
def test_a_reply_that_declines_the_offer_is_answered_in_kind(
        tmp_path: Path, found: bool, message: str, reply: str) -> None:
    chat, services = _chat(tmp_path, found=found)
    first = chat.send(QUESTION)
    assert chat.send(message, first.thread_id).assistant_text == OFFLINE_TEXTS["en"][reply]
    assert EscalationOutbox(services).list() == []


def test_small_talk_is_no_knowledge_gap_and_no_unanswered_streak(tmp_path: Path) -> None:
    # Two answers without a source in a row hand over: "hi" and "thanks" are not answers.
    rule = {"name": "unsure", "low_confidence_answers": 2, "reason": "Two unsure answers."}
    chat, services = _chat(tmp_path, escalation={"rules": [rule], "ask_email": False})
    first = chat.send("hi")
    assert first.assistant_text == OFFLINE_TEXTS["en"]["greeting"]
    chat.send(QUESTION, first.thread_id)
    assert chat.send("thanks", first.thread_id).assistant_text == OFFLINE_TEXTS["en"]["welcome"]
    assert chat.send("great, thanks!", first.thread_id).assistant_text == (
        OFFLINE_TEXTS["en"]["welcome"])
    assert EscalationOutbox(services).list() == []
    [conversation] = load_conversations(services.engine)
    assert [turn.low_confidence for turn in conversation.turns] == [False] * 4


def test_the_offer_taken_up_is_marked_as_the_handoff_for_the_widget(tmp_path: Path) -> None:
    chat, _ = _chat(tmp_path, found=False, escalation={"ask_email": False})
    offer = chat.send("What's the weather in Paris?")
    handed = chat.send("yes", offer.thread_id)
    assert HANDED in handed.assistant_text
    marker = [e for e in handed.events if e["type"] == "thread.item.done"][-1]["item"]
    annotations = [a for part in marker["content"] for a in part.get("annotations", [])]
    assert any("handoff" in str(a) for a in annotations)
