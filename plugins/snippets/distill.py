"""From solved tickets to a question and its resolution in general terms.

Offline (and whenever the model fails): extractive, from the agents' public replies — their
own sentences, without greetings, thanks, sign-offs or what the agent did on that one account.
With an LLM provider the model phrases the snippet from the redacted tickets; its words are
redacted again, since a model may repeat what it should not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass

import deskpilot
from deskpilot.extractive import general, sentences

from .redact import Redactor, ticket_people

log = logging.getLogger(__name__)

RESOLVED = frozenset({"solved", "closed"})
MAX_SENTENCES = 4
MAX_WORDS = 80

_TAGS = re.compile(r"<[^>]+>")
LLM_INSTRUCTIONS = (
    "You turn solved support tickets into one answer snippet for a public help center. "
    "Write the customer's question in general terms (no names, no account details) and the "
    "resolution as general guidance any customer could follow, in at most 80 words, only from "
    "what the agents' replies say. Placeholders in brackets such as [email] or [number] stand "
    "for removed personal data: never try to fill them in, and leave out sentences that need "
    'them. Reply with JSON only: {"question": "...", "answer": "..."}.'
)


@dataclass(frozen=True)
class Draft:
    question: str
    answer: str
    phrased_by: str


@dataclass(frozen=True)
class Source:
    """One solved ticket, redacted: what a snippet is distilled from and the queue shows."""

    connector: str
    ticket_id: str
    question: str
    answer: str  # the extractive resolution of this ticket
    replies: str  # all the agents' public replies, for a model to phrase from

    def as_json(self) -> dict[str, str]:
        return {"connector": self.connector, "ticket_id": self.ticket_id,
                "question": self.question, "answer": self.answer, "replies": self.replies}


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", _TAGS.sub(" ", text)).strip()


def _sentences(text: str) -> list[str]:
    """Its sentences, split as the offline answers split them; a reply or question typed
    without a final stop keeps its last words."""
    return sentences(_plain(text), fragment=True)


def resolution(replies: list[str]) -> str:
    """The agents' sentences that answer in general terms, at most MAX_SENTENCES/MAX_WORDS."""
    said = [s for reply in replies for s in _sentences(reply)]
    kept = [s for s in said if general(s)] or said
    chosen: list[str] = []
    words = 0
    for sentence in kept:
        count = len(sentence.split())
        if chosen and (len(chosen) == MAX_SENTENCES or words + count > MAX_WORDS):
            break
        chosen.append(sentence)
        words += count
    return " ".join(chosen)


def source_of(connector: str, ticket: deskpilot.Ticket, phone_region: str) -> Source | None:
    """The ticket as a snippet source, redacted; None when it is not solved, no agent
    answered it publicly or no one asked anything publicly (nothing to distil)."""
    if ticket.status.lower() not in RESOLVED:
        return None
    replies = [c.body for c in ticket.comments
               if c.public and c.author_role == "agent" and _plain(c.body)]
    if not replies:
        return None
    redact = Redactor(ticket_people(ticket), phone_region)
    # The subject, else the first words the customer wrote where others may read them.
    asked = [ticket.description, *(c.body for c in ticket.comments
                                   if c.public and c.author_role == "customer")]
    first = next((said[0] for text in asked if (said := _sentences(text))), "")
    question = redact(_plain(ticket.subject)) or redact(first)
    if not question:
        return None  # no question to file the answer under
    redacted = [redact(_plain(reply)) for reply in replies]
    return Source(connector=connector, ticket_id=ticket.id, question=question,
                  answer=resolution(redacted), replies="\n\n".join(redacted))


def extractive(sources: list[Source]) -> Draft:
    # The first source's words: a reviewer approved (or will review) that text, and a ticket
    # joining later must not change it under them.
    first = sources[0]
    return Draft(question=first.question, answer=first.answer, phrased_by="extractive")


def phrase_with_model(platform: deskpilot.Platform, sources: list[Source],
                      phone_region: str) -> Draft:
    """The LLM's snippet for these sources; the extractive one if the model fails or answers
    with something that is not the JSON asked for. Blocking: call it off the event loop."""
    from agents import Agent, RunConfig, Runner

    settings = platform.settings.agent
    tickets = "\n\n".join(
        f"Ticket {n}\nQuestion: {s.question}\nAgents' replies:\n{s.replies}"
        for n, s in enumerate(sources, start=1))
    agent = Agent(name=f"{settings.name} snippets", model=platform.model(shared=False),
                  instructions=LLM_INSTRUCTIONS)
    try:
        result = asyncio.run(Runner.run(agent, tickets,
                                        run_config=RunConfig(tracing_disabled=True)))
        text = str(result.final_output).strip()
        text = text.removeprefix("```json").removeprefix("```").removesuffix("```").strip()
        reply = json.loads(text)
        question, answer = str(reply["question"]).strip(), str(reply["answer"]).strip()
        if not question or not answer:
            raise ValueError("empty question or answer")
    except Exception as exc:  # a model down, or prose instead of JSON: the agents' own words
        log.warning("snippet phrasing by the model failed, kept the extractive one: %s", exc)
        return extractive(sources)
    redact = Redactor((), phone_region)
    return Draft(question=redact(question), answer=redact(answer),
                 phrased_by=settings.model)
