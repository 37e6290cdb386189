"""Personal data out of a solved ticket's text, before any of it becomes a snippet.

What goes: the people the connector names on the ticket (requester, agents: their names,
emails, organisation), and anything that looks like an email address, a payment-card number
(Luhn-checked), a phone number (Google's libphonenumber, through `phonenumberslite`), an order,
invoice, account or other reference number, or a URL carrying a token. Each is replaced by a
bracketed placeholder saying what was there, so a reviewer sees that something was removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

import deskpilot

EMAIL = "[email]"
PHONE = "[phone number]"
CARD = "[card number]"
NUMBER = "[number]"
LINK = "[link]"
NAME = "[name]"
ORGANISATION = "[organisation]"

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
# Query keys that carry a secret, and values that look like one (long, letters and digits).
_SECRET_KEYS = re.compile(
    r"token|key|sig|signature|secret|auth|code|session|sid|password|pass|otp|hash|reset"
    r"|invite|ticket|access|jwt|nonce", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[\w\-.~%]{16,}$")
# 13-19 digits, optionally grouped by spaces or dashes: checked with Luhn before redacting.
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
# A reference after a word that says what it is: "invoice INV-2025-0412", "order #48213",
# "account no. 99-1234". The word stays (it is general), the reference goes.
_LABELLED = re.compile(
    r"\b(invoice|order|account|acct|customer|client|member|reference|ref|receipt|booking"
    r"|transaction|confirmation|subscription|contract|case|ticket|tracking|serial|licen[cs]e"
    r"|policy|claim|iban|bic|vat|tax)(\s*(?:no\.?|number|num|nr\.?|id|code)?\s*[:#]?\s*)"
    r"(?=[A-Z0-9-]*\d)([A-Z0-9][A-Z0-9-]{3,})\b", re.IGNORECASE)
# An identifier of letters and digits joined by dashes ("INV-2025-0412", "FIN-8812"), and a
# long run of digits: references whatever word comes before them.
_CODE = re.compile(r"\b[A-Z]{2,6}-?\d[\dA-Z]*(?:-[\dA-Z]+)*\b")
_DIGITS = re.compile(r"\b\d{6,}\b")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return CARD if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()


def _url(match: re.Match[str]) -> str:
    url = match.group()
    trail = ""
    while url and url[-1] in ".,;:!?":  # sentence punctuation, not part of the link
        url, trail = url[:-1], url[-1] + trail
    parts = urlsplit(url if "://" in url else "https://" + url)
    query = parse_qsl(parts.query, keep_blank_values=True) + parse_qsl(parts.fragment)
    secret = any(_SECRET_KEYS.search(k) or _SECRET_VALUE.match(v) for k, v in query)
    secret = secret or any(_SECRET_VALUE.match(seg) for seg in parts.path.split("/"))
    return (LINK if secret or parts.username or parts.password else url) + trail


def _phones(text: str, region: str) -> str:
    import phonenumbers  # the phonenumberslite distribution: metadata only, no geocoder

    found = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.VALID)]
    for start, end in reversed(found):
        text = text[:start] + PHONE + text[end:]
    return text


def _people_terms(people: Iterable[deskpilot.Person]) -> list[tuple[str, str]]:
    terms: list[tuple[str, str]] = []
    for person in people:
        if person.email:
            terms.append((person.email, EMAIL))
        if person.organization:
            terms.append((person.organization, ORGANISATION))
        if person.name and "@" not in person.name:
            # The full name, then each part of it ("Anna", "Berg"): replies greet by first name.
            terms.append((person.name, NAME))
            terms += [(part, NAME) for part in re.split(r"[\s,]+", person.name)
                      if len(part.strip(".")) >= 2]
    # Longest first, so "Anna Berg" goes as one name rather than two.
    return sorted(set(terms), key=lambda term: -len(term[0]))


class Redactor:
    """Removes personal data; `people` are those the connector names on the ticket(s)."""

    def __init__(self, people: Iterable[deskpilot.Person] = (), phone_region: str = "US") -> None:
        self.phone_region = phone_region
        self._people = [(re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE), label)
                        for term, label in _people_terms(people)]

    def __call__(self, text: str) -> str:
        for pattern, label in self._people:  # first: a person's email before any address
            text = pattern.sub(label, text)
        text = _URL.sub(_url, text)
        text = _EMAIL.sub(EMAIL, text)
        text = _CARD.sub(_card, text)
        text = _LABELLED.sub(lambda m: f"{m.group(1)}{m.group(2)}{NUMBER}", text)
        text = _phones(text, self.phone_region)
        text = _CODE.sub(NUMBER, text)
        return _DIGITS.sub(NUMBER, text)


def ticket_people(ticket: deskpilot.Ticket) -> list[deskpilot.Person]:
    """Everyone the connector names on a ticket."""
    people = [ticket.requester] if ticket.requester else []
    return people + [c.author for c in ticket.comments if c.author]
