"""`[[escalation.rules]]` of every kind, business hours, and identity from the signed token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

import deskpilot
from deskpilot.core.app import create_app
from deskpilot.core.chat.identity import sign_user_token
from deskpilot.core.config import ConfigError
from deskpilot.core.services import Services
from deskpilot.plugins.escalation.outbox import EscalationOutbox
from deskpilot.plugins.escalation.phrases import MESSAGES
from deskpilot.plugins.escalation.settings import Hours
from tests.plugins.support_fakes import Chat, StubSearcher, make_services, passage

ASK_EMAIL = MESSAGES["en"]["ask_email"]

SECRET = "rules-identity-secret"
RULES = [
    {"name": "billing-disputes", "reason": "Billing disputes are handled by our billing team",
     "categories": ["Billing"]},
    {"name": "urgent", "reason": "Urgent problems go straight to a person",
     "priorities": ["urgent"]},
    {"name": "legal", "reason": "Legal questions need a person", "keywords": ["lawyer", "GDPR"]},
    {"name": "chargeback", "reason": "Chargebacks need a person",
     "patterns": [r"charge\s*back"]},
    {"name": "enterprise", "reason": "Enterprise customers get a person",
     "attributes": {"plan": "enterprise"}},
    {"name": "unsure", "reason": "I could not find a good answer twice in a row",
     "low_confidence_answers": 2},
]


class FixedTriage:
    """A triage plugin that predicts from words in the text."""

    @deskpilot.hookimpl
    def triage_text(self, text: str) -> dict[str, Any]:
        lowered = text.lower()
        return {"category": "billing" if "invoice" in lowered else "technical",
                "priority": "urgent" if "down" in lowered else "normal"}


def _services(tmp_path: Path, **escalation: Any) -> Services:
    services = make_services(tmp_path, "local", extra=[("fixed-triage", FixedTriage())],
                             escalation={"ask_email": False, "rules": RULES, **escalation},
                             searcher=StubSearcher([passage(
                                 "Reset your password", "Choose Forgot password.", 1.3)]))
    services.settings.chat.identity_secret = SecretStr(SECRET)  # read when the chat is built
    return services


def _ticket_request(services: Services) -> dict[str, Any]:
    [row] = EscalationOutbox(services).list()
    [ticket] = services.audit_log("local.ticket", row.ticket_ref)
    return ticket["request"]


@pytest.mark.parametrize("message, rule", [
    ("My invoice shows the wrong amount", "billing-disputes"),
    ("The whole site is down for us", "urgent"),
    ("Our lawyer asks about data retention", "legal"),
    ("I will file a charge back with my bank", "chargeback"),
])
def test_a_message_rule_hands_over_at_once_with_its_name_and_reason(
        tmp_path: Path, message: str, rule: str) -> None:
    services = _services(tmp_path)
    turn = Chat(create_app(services=services)).send(message)
    reason = next(r["reason"] for r in RULES if r["name"] == rule)
    assert turn.assistant_text.startswith(reason)
    assert "passed this conversation to our support team" in turn.assistant_text
    transcript = _ticket_request(services)["transcript"]
    assert transcript.startswith(f"Reason: {reason}\nRule: {rule}\n")
    [audit] = services.audit_log("escalation.rule", EscalationOutbox(services).list()[0].id)
    assert audit["rule"] == rule


def test_no_rule_no_handoff(tmp_path: Path) -> None:
    services = _services(tmp_path)
    turn = Chat(create_app(services=services)).send("How do I reset my password?")
    assert "Reset your password" in turn.assistant_text
    assert EscalationOutbox(services).list() == []


def test_a_token_attribute_rule_and_the_identity_it_carries(tmp_path: Path) -> None:
    services = _services(tmp_path, ask_email=True)
    token = sign_user_token(SECRET, "42", 600, claims={
        "email": "cto@bigcorp.example", "name": "Chris", "plan": "enterprise"})
    turn = Chat(create_app(services=services), token=token).send("How do I reset my password?")
    assert turn.assistant_text.startswith("Enterprise customers get a person")
    request = _ticket_request(services)
    # Signed in: no question about the email address; the token's identity is the requester.
    assert (request["customer_email"], request["customer_name"]) == ("cto@bigcorp.example",
                                                                     "Chris")
    assert request["customer_id"] == "user:42"
    assert EscalationOutbox(services).list()[0].customer_email == "cto@bigcorp.example"


def test_an_anonymous_visitor_is_asked_for_an_email_before_a_rule_hands_over(
        tmp_path: Path) -> None:
    services = _services(tmp_path, ask_email=True)
    chat = Chat(create_app(services=services))
    first = chat.send("My invoice shows the wrong amount")
    assert first.assistant_text == ASK_EMAIL and EscalationOutbox(services).list() == []
    done = chat.send("sure: Ana@Example.COM", first.thread_id)
    assert done.assistant_text.startswith("Billing disputes are handled")
    assert _ticket_request(services)["customer_email"] == "Ana@example.com"


def test_two_answers_without_a_source_in_a_row_hand_over(tmp_path: Path) -> None:
    services = _services(tmp_path)
    # Nothing in the knowledge: the offline model answers without a source.
    services.__dict__["searcher"] = StubSearcher([])
    chat = Chat(create_app(services=services))
    first = chat.send("Can your product brew coffee?")
    assert EscalationOutbox(services).list() == []
    second = chat.send("What about tea?", first.thread_id)
    assert "I could not find a good answer twice in a row" in second.assistant_text
    assert _ticket_request(services)["transcript"].startswith(
        "Reason: I could not find a good answer twice in a row\nRule: unsure")


def test_a_sourced_answer_resets_the_streak(tmp_path: Path) -> None:
    services = _services(tmp_path)
    chat = Chat(create_app(services=services))
    services.__dict__["searcher"] = StubSearcher([])
    first = chat.send("Can your product brew coffee?")
    services.__dict__["searcher"] = StubSearcher([passage(
        "Reset your password", "Choose Forgot password on the sign-in page.", 1.3,
        url="https://help.example.com/reset-password")])
    chat.send("How do I reset my password?", first.thread_id)
    services.__dict__["searcher"] = StubSearcher([])
    chat.send("And tea?", first.thread_id)
    assert EscalationOutbox(services).list() == []


def test_outside_business_hours_the_customer_is_told_when_people_reply(tmp_path: Path) -> None:
    # Every day but today, so that now is always outside the hours.
    today = datetime.now(ZoneInfo("Asia/Tokyo"))
    days = [d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            if d != today.strftime("%a").lower()]
    services = _services(tmp_path, rules=[], hours={
        "timezone": "Asia/Tokyo", "days": days, "start": "09:00", "end": "17:00"})
    chat = Chat(create_app(services=services))
    first = chat.send("How do I reset my password?")
    handed = chat.send("I'd like to talk to a person", first.thread_id)
    assert "Our team is available" in handed.assistant_text
    assert "(Asia/Tokyo), so a person will reply from" in handed.assistant_text
    assert "09:00" in handed.assistant_text
    assert "Outside business hours" in _ticket_request(services)["transcript"]


def test_hours_arithmetic() -> None:
    hours = Hours(timezone="Europe/Paris", days=["mon", "tue", "wed", "thu", "fri"],
                  start="09:00", end="17:30")
    friday_evening = datetime(2026, 12, 4, 17, 45, tzinfo=UTC)  # 18:45 in Paris
    assert not hours.is_open(friday_evening)
    monday = hours.next_opening(friday_evening)
    assert (monday.strftime("%A %H:%M"), monday.utcoffset().total_seconds()) == (
        "Monday 09:00", 3600)
    assert hours.is_open(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))  # Monday 09:00 Paris
    saturday_night = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    assert hours.next_opening(saturday_night).day == 7


@pytest.mark.parametrize("escalation, problem", [
    ({"rules": [{"name": "x", "reason": "y"}]}, "has no condition"),
    ({"rules": [{"name": "x", "reason": "y", "patterns": ["(unclosed"]}]},
     "is not a regular expression"),
    ({"hours": {"timezone": "Mars/Olympus"}}, "unknown timezone"),
    ({"hours": {"days": ["funday"]}}, "unknown day"),
    ({"hours": {"start": "18:00", "end": "09:00"}}, "is not after start"),
    ({"rules": [{"name": "x", "reason": "y", "keywords": ["z"], "reasons": {"German": "y"}}]},
     "'German' is not a language code"),
])
def test_bad_rules_and_hours_are_config_errors(tmp_path: Path, escalation: dict[str, Any],
                                               problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        make_services(tmp_path, "local", escalation=escalation)


def test_a_rules_reason_is_told_in_the_visitors_language_or_not_at_all(tmp_path: Path) -> None:
    # A German visitor read "Chargebacks need a person. Ich habe diese Unterhaltung …": the
    # operator's English reason before the hand-over's German.
    rules = [{"name": "legal", "reason": "Legal questions need a person",
              "reasons": {"de": "Rechtsfragen klärt bei uns ein Mensch"}, "keywords": ["Anwalt"]},
             {"name": "chargeback", "reason": "Chargebacks need a person",
              "keywords": ["Rückbuchung"]}]
    services = _services(tmp_path, rules=rules)
    app = create_app(services=services)
    german = MESSAGES["de"]["delivered"]
    legal = Chat(app).send("Mein Anwalt fragt, wie lange Sie meine Daten speichern.")
    [row] = EscalationOutbox(services).list()
    assert legal.assistant_text == ("Rechtsfragen klärt bei uns ein Mensch. "
                                    + german.format(ref=row.ticket_ref))
    chargeback = Chat(app).send("Ich habe eine Rückbuchung bei meiner Bank veranlasst.")
    row = next(r for r in EscalationOutbox(services).list() if r.id != row.id)
    assert chargeback.assistant_text == german.format(ref=row.ticket_ref)
    # The ticket keeps the operator's reason whatever the visitor read.
    [ticket] = services.audit_log("local.ticket", row.ticket_ref)
    assert "Reason: Chargebacks need a person" in ticket["request"]["transcript"]

