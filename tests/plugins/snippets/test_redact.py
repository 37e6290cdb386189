"""Personal data out of solved tickets' text: the people on the ticket and what looks personal."""

from __future__ import annotations

import pytest

import deskpilot
from deskpilot.plugins.snippets.distill import resolution, source_of
from deskpilot.plugins.snippets.redact import Redactor

ANNA = deskpilot.Person(name="Anna Berg", email="anna.berg@example.org",
                        organization="Globex Industries")


@pytest.mark.parametrize(("text", "expected"), [
    ("Hi Anna Berg, welcome", "Hi [name], welcome"),
    ("Thanks anna, Berg's team", "Thanks [name], [name]'s team"),
    ("Globex Industries was refunded", "[organisation] was refunded"),
    ("write to anna.berg@example.org today", "write to [email] today"),
    ("or bob+x@mail.foo.co.uk.", "or [email]."),
    ("card 4111 1111 1111 1111 works", "card [card number] works"),
    ("card 4111-1111-1111-1112 is no card", "card 4111-1111-1111-1112 is no card"),
    ("invoice INV-2025-0412 shows", "invoice [number] shows"),
    ("order #48213 shipped", "order #[number] shipped"),
    ("account no. 99-1234 closed", "account no. [number] closed"),
    ("ref FIN-8812 applies", "ref [number] applies"),
    ("call +1 415-555-0134 now", "call [phone number] now"),
    ("call (415) 555-0199 now", "call [phone number] now"),
    ("call +44 20 7946 0958 now", "call [phone number] now"),
    ("see https://x.example/reset?token=abc123def456ghi789jkl.", "see [link]."),
    ("see https://x.example/i/8f3a9c2b7d1e4f6a9b0c3d5e now", "see [link] now"),
    ("see https://help.acme.example/articles/refunds now",
     "see https://help.acme.example/articles/refunds now"),
    ("within 5 business days on 2025-05-02 for 29 USD",
     "within 5 business days on 2025-05-02 for 29 USD"),
])
def test_redaction(text: str, expected: str) -> None:
    assert Redactor([ANNA], "US")(text) == expected


def test_the_resolution_keeps_the_general_sentences() -> None:
    replies = ["Hi Anna, sorry about that! I've refunded the 11 unused months to your card. "
               "Annual plans can be refunded pro rata within 60 days. Best regards, Tom"]
    assert resolution(replies) == "Annual plans can be refunded pro rata within 60 days."


def test_only_solved_tickets_with_a_public_agent_reply_are_sources() -> None:
    def ticket(status: str, public: bool = True, role: str = "agent") -> deskpilot.Ticket:
        return deskpilot.Ticket(id="1", subject="Refund", description="Can I get one?",
                                status=status, comments=[deskpilot.Comment(
                                    author_role=role, body="Refunds take 5 days.",
                                    public=public)])

    assert source_of("desk", ticket("solved"), "US") is not None
    assert source_of("desk", ticket("Closed"), "US") is not None
    assert source_of("desk", ticket("open"), "US") is None
    assert source_of("desk", ticket("solved", public=False), "US") is None  # a note only
    assert source_of("desk", ticket("solved", role="customer"), "US") is None


def test_a_ticket_without_subject_or_public_description_asks_in_its_first_message() -> None:
    # Zendesk gives no description when the first comment was made private; with no subject
    # either, distilling such a ticket raised IndexError, which kept every solved ticket
    # synced on its page out of the review queue.
    answer = deskpilot.Comment(author_role="agent", body="Refunds take 5 days.", public=True)
    asked = deskpilot.Comment(author_role="customer", body="Can I get my money back, Anna Berg",
                              public=True)
    silent = deskpilot.Ticket(id="1", subject=" ", description="", status="solved",
                              comments=[answer], requester=ANNA)
    assert source_of("desk", silent, "US") is None  # no question to file the answer under
    source = source_of("desk", silent.model_copy(update={"comments": [asked, answer]}), "US")
    assert source is not None and source.question == "Can I get my money back, [name]"
    assert source.answer == "Refunds take 5 days."
