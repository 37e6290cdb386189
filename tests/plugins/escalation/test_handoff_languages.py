"""A hand-over in the customer's language: a German visitor who asks for a person in German is
handed over, in German, and so for each language heard; the widget's button and the offline
model's notice name requests the plugin hears."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from string import Formatter
from zoneinfo import ZoneInfo

import pytest

from deskpilot.core.agent.language import CANNOT_ANSWER_IN, OFFLINE_TEXTS
from deskpilot.core.app import create_app
from deskpilot.plugins.escalation.outbox import EscalationOutbox
from deskpilot.plugins.escalation.phrases import (
    MESSAGES,
    days,
    moment,
    only_requested,
    requested,
    skips_email,
)
from deskpilot.plugins.escalation.tables import EscalationStatus
from tests.conftest import REPO
from tests.plugins.support_fakes import Chat, FlakyDesk, make_services

GERMAN = MESSAGES["de"]


@pytest.fixture(autouse=True)
def desk() -> None:
    FlakyDesk.down, FlakyDesk.tickets = False, []


@pytest.mark.parametrize("text, asks", [
    ("Ich möchte mit einem Menschen sprechen", True),
    ("Kann ich bitte mit einer echten Person chatten?", True),
    ("Verbinden Sie mich mit einem Mitarbeiter", True),
    ("Je voudrais parler à une personne", True),
    ("Quiero hablar con una persona", True),
    ("Vorrei parlare con un operatore", True),
    ("Ik wil met een medewerker spreken", True),
    ("Quero falar com uma pessoa", True),
    # Not a request: negated, or a question about people.
    ("Ich möchte nicht mit einem Menschen sprechen, sagen Sie es mir einfach", False),
    ("Wer ist die zuständige Person für Rechnungen?", False),
    ("Je ne veux pas parler à une personne", False),
    ("No quiero hablar con una persona", False),
    ("Ik wil niet met een medewerker praten", False),
])
def test_requests_for_a_person_in_other_languages(text: str, asks: bool) -> None:
    assert requested(text) is asks


def test_a_request_with_a_question_of_its_own_is_not_only_a_request() -> None:
    assert only_requested("Hallo, ich möchte bitte mit einem Menschen sprechen")
    assert not only_requested(
        "Meine Karte wurde doppelt belastet, kann ich mit einem Menschen sprechen?")


def test_a_german_visitor_is_handed_over_in_german(tmp_path: Path) -> None:
    services = make_services(tmp_path, "local")
    chat = Chat(create_app(services=services))

    asked = chat.send("Ich möchte mit einem Menschen sprechen")
    assert asked.assistant_text == GERMAN["ask_email"]
    # The address carries no language of its own: the answers stay German.
    typo = chat.send("ana(at)example.com", asked.thread_id)
    assert typo.assistant_text.startswith(GERMAN["bad_email"].split("(")[0])
    handed = chat.send("ana@example.com", asked.thread_id)
    [row] = EscalationOutbox(services).list()
    assert row.status == EscalationStatus.DELIVERED
    assert handed.assistant_text == GERMAN["delivered"].format(ref=row.ticket_ref)
    assert chat.send("Hallo? Ist da jemand?", asked.thread_id).assistant_text == ""  # the person


def test_skip_in_german_hands_over_without_an_address(tmp_path: Path) -> None:
    services = make_services(tmp_path, "local")
    chat = Chat(create_app(services=services))
    asked = chat.send("Kann ich mit einem Mitarbeiter sprechen?")
    handed = chat.send("überspringen", asked.thread_id)
    [row] = EscalationOutbox(services).list()
    assert handed.assistant_text == GERMAN["delivered"].format(ref=row.ticket_ref)
    assert row.request["customer_email"] is None


@pytest.mark.parametrize(("request_text", "no"), [
    # Was: "That doesn't look like an email address…", asked again.
    ("I'd like to talk to a person", "no thank you"),
    ("I'd like to talk to a person", "nope"),
    ("Kann ich mit einem Mitarbeiter sprechen?", "nein danke"),
    ("Je voudrais parler à une personne", "non merci"),
])
def test_a_no_to_the_email_question_hands_over_without_an_address(
        tmp_path: Path, request_text: str, no: str) -> None:
    services = make_services(tmp_path, "local")
    chat = Chat(create_app(services=services))
    asked = chat.send(request_text)
    handed = chat.send(no, asked.thread_id)
    [row] = EscalationOutbox(services).list()
    assert row.thread_id == asked.thread_id and row.request["customer_email"] is None
    assert row.ticket_ref in handed.assistant_text


def test_an_english_request_still_gets_english(tmp_path: Path) -> None:
    chat = Chat(create_app(services=make_services(tmp_path, "local")))
    assert chat.send("I'd like to talk to a person").assistant_text == MESSAGES["en"]["ask_email"]


@pytest.mark.parametrize("request_text, told", [
    ("Ich möchte mit einem Menschen sprechen", ("Unser Team ist", "09:00 Uhr.")),
    ("Je voudrais parler à une personne", ("Notre équipe est disponible", "à partir du ")),
])
def test_business_hours_are_told_in_the_visitors_language(
        tmp_path: Path, request_text: str, told: tuple[str, str]) -> None:
    today = datetime.now(ZoneInfo("Europe/Berlin"))  # every day but today: closed now
    open_days = [d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                 if d != today.strftime("%a").lower()]
    services = make_services(tmp_path, "local", escalation={"ask_email": False, "hours": {
        "timezone": "Europe/Berlin", "days": open_days, "start": "09:00", "end": "17:00"}})
    chat = Chat(create_app(services=services))
    handed = chat.send(request_text)
    assert all(part in handed.assistant_text for part in told), handed.assistant_text
    assert "(Europe/Berlin)" in handed.assistant_text


def test_german_days_and_moments() -> None:
    assert days(["mon", "tue", "wed", "thu", "fri"], "de") == "Mo–Fr"
    assert days(["sat", "sun"], "de") == "Sa und So"
    assert days(["mon", "tue", "wed", "thu", "fri"], "en") == "Mon–Fri"
    # Days with a gap are not a range ("Mon–Fri" was said for Monday, Wednesday and Friday).
    assert days(["mon", "wed", "fri"], "en") == "Mon, Wed and Fri"
    assert days(["fri", "mon", "wed"], "de") == "Mo, Mi und Fr"
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert moment(monday, "de") == "Montag, 7. Dezember, 09:00"  # the message adds "Uhr"
    assert moment(monday, "en") == "Monday 7 December, 09:00"


def test_the_widget_button_sends_a_request_the_plugin_hears_in_every_ui_language() -> None:
    widget = (REPO / "core" / "widget" / "widget.js").read_text()
    sent = [text.encode().decode("unicode_escape")
            for text in re.findall(r'handoffMessage: "([^"]+)"', widget)]
    assert len(sent) == widget.count("handoff: ")  # one per UI language
    assert "Ich möchte mit einem Menschen sprechen" in sent
    for text in sent:
        assert requested(text) and only_requested(text), text


def test_the_offline_notices_name_a_request_the_plugin_hears() -> None:
    offers = [*CANNOT_ANSWER_IN.items(),
              *((language, texts["handover"]) for language, texts in OFFLINE_TEXTS.items())]
    for language, offer in offers:
        [phrase] = re.findall(r'[„«"]\s*([^“»"]+?)\s*[“»"]', offer)
        assert requested(phrase) and only_requested(phrase), (language, phrase)


# A request heard in a language must be answered in it: a French visitor who asked for a
# person "in French" was asked for an email address, and handed over, in English.
@pytest.mark.parametrize("language, request_text, skip_word", [
    ("fr", "Je voudrais parler à une personne", "passer"),
    ("es", "Quiero hablar con una persona", "omitir"),
    ("it", "Vorrei parlare con un operatore", "salta"),
    ("nl", "Ik wil met een medewerker spreken", "overslaan"),
    ("pt", "Quero falar com uma pessoa", "pular"),
])
def test_every_language_heard_is_answered_in_it(tmp_path: Path, language: str,
                                                request_text: str, skip_word: str) -> None:
    said = MESSAGES[language]
    services = make_services(tmp_path, "local")
    chat = Chat(create_app(services=services))
    asked = chat.send(request_text)
    assert asked.assistant_text == said["ask_email"]
    assert skip_word in said["ask_email"] and skip_word in said["bad_email"]
    assert chat.send("ana(at)example", asked.thread_id).assistant_text == said["bad_email"]
    handed = chat.send(skip_word, asked.thread_id)
    [row] = EscalationOutbox(services).list()
    assert handed.assistant_text == said["delivered"].format(ref=row.ticket_ref)
    assert row.request["customer_email"] is None


def test_each_language_offers_a_skip_word_the_plugin_hears() -> None:
    assert set(MESSAGES) == {"en", "de", "fr", "es", "it", "nl", "pt"}
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(text) if name}

    for language, said in MESSAGES.items():
        assert set(said) == set(MESSAGES["en"]), language
        for key, text in said.items():  # the same blanks ("problem": English only)
            assert fields(text) == fields(MESSAGES["en"][key]) - {"problem"} or \
                language == "en", (language, key)
        [word] = re.findall(r'[„«"“]\s*([^“»"”]+?)\s*[“»"”]', said["ask_email"])
        assert skips_email(word), (language, word)


def test_days_and_moments_in_the_other_languages() -> None:
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert days(["mon", "tue", "wed", "thu", "fri"], "fr") == "lun.–ven."
    assert days(["sat", "sun"], "es") == "sáb y dom"
    assert moment(monday, "fr") == "lundi 7 décembre, 09:00"
    assert moment(monday, "nl") == "maandag 7 december, 09:00"
    assert moment(monday, "pt") == "segunda-feira, 7 de dezembro, 09:00"
