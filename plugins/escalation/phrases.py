"""What a hand-over hears and says, in the customer's language.

Heard: a request for a person in English, German, French, Spanish, Italian, Dutch or
Portuguese (the widget's button sends one in its UI language; the offline model's "I can only
answer in English" notice tells the customer what to type in theirs). Said: the hand-over's
own messages in English and German, the languages the widget ships; any other language gets
the English ones. The language is the customer's latest message that `deskpilot.language`
calls with confidence (an email address or "skip" says nothing), so the answer to the email
question comes in the language the person was asked for in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from deskpilot.language import detect

from .settings import DAYS

# An explicit request for a person, in the customer's own words (not a question about people).
_PERSON_DE = r"(mensch(en)?|person|mitarbeiter(in)?|berater(in)?|ansprechpartner(in)?|jemandem)"
_PERSON_NL = r"(een )?(mens|persoon|medewerker|iemand)"
_ASKS_FOR_PERSON = re.compile("|".join((
    # en
    r"\b(talk|speak|chat|connect me|put me through)\b.{0,20}\b(person|human|agent|someone|"
    r"representative|somebody|staff|operator)\b|\b(human|real person|live agent),? please\b",
    # de: "mit einem Menschen sprechen", "sprechen mit einer Person", "Mensch, bitte"
    rf"\bmit\b.{{0,25}}\b{_PERSON_DE}\b.{{0,20}}\b(sprechen|reden|chatten|verbunden)\b",
    rf"\b(sprechen|reden|chatten|verbinden Sie mich)\b.{{0,10}}\bmit\b.{{0,25}}\b{_PERSON_DE}\b",
    r"\b(mensch|mitarbeiter|echte person),? bitte\b",
    # fr
    r"\b(parler|discuter)\b.{0,10}\b(à|a|avec)\b.{0,15}\b(une? )?(personne|humain|"
    r"conseill(er|ère)|agent|opérat(eur|rice)|quelqu'un)\b",
    # es
    r"\b(hablar|chatear)\b.{0,10}\bcon\b.{0,15}\b(una persona|un humano|un agente|alguien|"
    r"una? asesora?|una? operadora?)\b",
    # it
    r"\b(parlare|chattare)\b.{0,10}\bcon\b.{0,15}\b(una persona|un operatore|un'operatrice|"
    r"un umano|qualcuno|un agente|un consulente)\b",
    # nl
    rf"\b(praten|spreken|chatten)\b.{{0,10}}\bmet\b.{{0,15}}\b{_PERSON_NL}\b",
    rf"\bmet\b.{{0,15}}\b{_PERSON_NL}\b.{{0,15}}\b(praten|spreken|chatten)\b",
    # pt
    r"\b(falar|conversar)\b.{0,10}\bcom\b.{0,15}\b(uma pessoa|um humano|uma? atendente|"
    r"alguém|um agente)\b",
)), re.IGNORECASE)
_NEGATED = re.compile("|".join((
    r"\b(don't|do not|no need to|not)\b.{0,12}\b(talk|speak|chat)\b",
    r"\b(nicht|kein\w*)\b.{0,35}\b(sprechen|reden|chatten)\b",
    r"\bpas\b.{0,15}\b(parler|discuter)\b",
    r"\bno\b.{0,15}\b(hablar|chatear)\b",
    r"\bnon\b.{0,15}\b(parlare|chattare)\b",
    r"\b(niet|geen)\b.{0,30}\b(praten|spreken|chatten)\b",
    r"\bnão\b.{0,15}\b(falar|conversar)\b",
)), re.IGNORECASE)

# Words that leave a request for a person with no question of its own ("Hi, can I please...").
_COURTESY_WORDS = {
    "en": "i i'd id i'm would like want wanna to can could may please let me a an the with hi "
          "hello hey now just need you ok okay thanks thank yes",
    "de": "ich möchte möchten würde würden gerne gern bitte hallo kann könnte darf will jetzt "
          "danke ja guten tag einem einer",
    "fr": "je j'aimerais voudrais veux souhaite bonjour s'il vous plaît merci pourrais puis "
          "peux oui",
    "es": "quiero quisiera me gustaría por favor hola puedo podría gracias sí",
    "it": "vorrei voglio posso per favore ciao salve grazie",
    "nl": "ik wil graag alstublieft alsjeblieft kan mag dank u ja",
    "pt": "eu quero gostaria de olá posso obrigado obrigada sim",
}
_COURTESY = frozenset(word for words in _COURTESY_WORDS.values() for word in words.split())

SKIP = re.compile(r"^\W*(skip|no|no thanks|no email|none|überspringen|nein|nein danke|"
                  r"ohne)\W*$", re.IGNORECASE)


def requested(text: str) -> bool:
    """Whether a customer's message asks for a person outright."""
    return bool(_ASKS_FOR_PERSON.search(text)) and not _NEGATED.search(text)


def only_requested(text: str) -> bool:
    """Whether the message asks for a person and says nothing else (no question of its own)."""
    if not requested(text):
        return False
    rest = _ASKS_FOR_PERSON.sub(" ", text).lower().replace("\u2019", "'")
    return all(word in _COURTESY for word in re.findall(r"[\w']+", rest))


MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "delivered": (
            "I've passed this conversation to our support team (reference {ref}), with "
            "everything you've told me, so you won't need to repeat yourself. A person will "
            "reply to you here as soon as possible; until they have finished, I'll stay out of "
            "this conversation."),
        "queued": (
            "I've saved your request for our support team. Our helpdesk is not reachable at "
            "this moment, so it will be passed on automatically as soon as it is, and a person "
            "will follow up with you here; you won't need to repeat yourself."),
        "unavailable": (
            "I'm sorry: handing this conversation to a person is not possible right now. "
            "Please contact our support team directly."),
        "ask_email": (
            "Before I pass you to a person: what email address can they reach you at? They "
            "will answer you here, and by email if you leave this page. (Say \"skip\" to go on "
            "without.)"),
        "bad_email": (
            "That does not look like an email address ({problem}). Please type it again, or "
            "say \"skip\" to go on without one."),
        "handed_back": (
            "I've passed your message to our support team again; a person will reply to you "
            "here."),
        "after_hours": (
            " Our team is available {days} {start}–{end} ({timezone}), so a person will reply "
            "from {opening}."),
    },
    "de": {
        "delivered": (
            "Ich habe diese Unterhaltung an unser Support-Team weitergegeben (Referenz {ref}), "
            "mit allem, was Sie mir geschrieben haben: Sie müssen nichts wiederholen. Ein Mensch "
            "antwortet Ihnen hier, so bald wie möglich; bis dahin halte ich mich aus dieser "
            "Unterhaltung heraus."),
        "queued": (
            "Ich habe Ihre Anfrage für unser Support-Team gespeichert. Unser Helpdesk ist "
            "gerade nicht erreichbar; sie wird automatisch weitergegeben, sobald er es wieder "
            "ist, und ein Mensch meldet sich hier bei Ihnen. Sie müssen nichts wiederholen."),
        "unavailable": (
            "Es tut mir leid: Die Übergabe an einen Menschen ist gerade nicht möglich. Bitte "
            "wenden Sie sich direkt an unser Support-Team."),
        "ask_email": (
            "Bevor ich Sie an einen Menschen weitergebe: Unter welcher E-Mail-Adresse erreicht "
            "man Sie? Die Antwort kommt hier und per E-Mail, falls Sie diese Seite verlassen. "
            "(Schreiben Sie „überspringen“, um ohne E-Mail-Adresse fortzufahren.)"),
        "bad_email": (
            "Das sieht nicht nach einer E-Mail-Adresse aus ({problem}). Bitte geben Sie sie "
            "noch einmal ein, oder schreiben Sie „überspringen“, um ohne fortzufahren."),
        "handed_back": (
            "Ich habe Ihre Nachricht wieder an unser Support-Team weitergegeben; ein Mensch "
            "antwortet Ihnen hier."),
        "after_hours": (
            " Unser Team ist {days} von {start} bis {end} Uhr ({timezone}) erreichbar, ein "
            "Mensch antwortet Ihnen also ab {opening}."),
    },
}

_DAYS = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
         "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")}
_WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag",
                "Sonntag")
_MONTHS_DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember")
_AND = {"en": " and ", "de": " und "}


def say(key: str, language: str, **fields: str) -> str:
    """The hand-over's message `key` in `language` (English when it has none)."""
    return MESSAGES.get(language, MESSAGES["en"])[key].format(**fields)


def language_of(texts: Iterable[str]) -> str:
    """The language to answer in: that of the first text (newest first) detected with
    confidence, if the hand-over speaks it; else English."""
    for text in texts:
        if (found := detect(text)) is not None:
            return found if found in MESSAGES else "en"
    return "en"


def days(day_codes: list[str], language: str) -> str:
    """["mon", …, "fri"] -> "Mon–Fri" ("Mo–Fr" in German); days with gaps are listed
    ("Mon, Wed and Fri")."""
    names, and_ = _DAYS.get(language, _DAYS["en"]), _AND.get(language, _AND["en"])
    order = sorted(DAYS.index(day) for day in day_codes)
    listed = [names[i] for i in order]
    if len(listed) > 2 and order == list(range(order[0], order[-1] + 1)):
        return f"{listed[0]}–{listed[-1]}"
    if len(listed) > 2:
        return ", ".join(listed[:-1]) + and_ + listed[-1]
    return and_.join(listed)


def moment(when: datetime, language: str) -> str:
    """"Monday 07 December, 09:00" ("Montag, 7. Dezember, 09:00 Uhr" in German)."""
    if language == "de":
        return (f"{_WEEKDAYS_DE[when.weekday()]}, {when.day}. {_MONTHS_DE[when.month - 1]}, "
                f"{when:%H:%M} Uhr")
    return when.strftime("%A %d %B, %H:%M")
