"""Cited reply drafts for human agents.

A draft answers a ticket from public articles, similar solved tickets and internal notes. It
is for a human agent to review, never sent by itself: the body opens with DRAFT_MARKER, and
internal knowledge appears only in its agent-facing source list, never in the proposed reply.

Offline (`agent.provider = "offline"`) the reply is extractive: the best-matching past
resolution and article passage. With an LLM, the same sources are numbered in the prompt and
the model writes the reply; the source list is always built here, not by the model. The
prompt tells the model to keep internal sources out of the reply, and a reply that cites one
or quotes one (QUOTE_WORDS words in a row) is replaced by the extractive draft: paraphrase
cannot be caught this way, which is one more reason a person reviews every draft.
"""

from __future__ import annotations

import asyncio
import logging
import re

from pydantic import BaseModel

import deskpilot
from deskpilot import Passage

log = logging.getLogger(__name__)

DRAFT_MARKER = "DRAFT — review before sending"
INTERNAL_LABEL = "internal, do not share with the customer"
SEARCH_RESULTS = 12
ARTICLES = 2
TICKETS = 2
EXCERPT_CHARS = 500
# This many consecutive words of an internal source in an LLM reply count as quoting it.
QUOTE_WORDS = 8
DRAFT_INSTRUCTIONS = (
    "You draft replies for a human support agent of {company}, who will review and edit them "
    "before sending. Write the reply to the customer only from the numbered public sources, "
    "citing them like [1]. Internal sources are context for the agent: never quote or reveal "
    "them in the reply. If the sources do not answer the ticket, say what is missing instead of "
    "guessing. Reply with the message text only."
)

_TICKET = deskpilot.DocumentKind.TICKET
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")


class DraftSource(BaseModel):
    title: str
    url: str | None
    kind: str  # article | ticket
    audience: deskpilot.Audience
    document_id: str
    connector: str


class Draft(BaseModel):
    body: str
    sources: list[DraftSource]
    draft: bool = True  # never send as is: a person reviews it
    generated_by: str  # "offline" or the model name


def _query(ticket: deskpilot.Ticket | str) -> tuple[str, str | None]:
    if isinstance(ticket, deskpilot.Ticket):
        return "\n".join(p for p in (ticket.subject, ticket.description) if p), ticket.id
    return ticket, None


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def _clip(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _body_lines(passage: Passage) -> list[str]:
    # Chunks carry their title as the first line.
    lines = [line.strip() for line in passage.text.splitlines() if line.strip()]
    return lines[1:] if len(lines) > 1 and lines[0] == passage.title.strip() else lines


def resolution(passage: Passage, query: str) -> str:
    """The part of a solved ticket's public conversation that answered it: after the opening
    message, the reply that best matches the question (the longest on a tie)."""
    lines = _body_lines(passage)
    replies = lines[1:] or lines
    wanted = _terms(query)
    best = max(replies, key=lambda line: (len(wanted & _terms(line)), len(line)), default="")
    return _clip(best)


def article_excerpt(passage: Passage, query: str) -> str:
    sentences = [s for line in _body_lines(passage) for s in _SENTENCE.split(line) if s.strip()]
    wanted = _terms(query)
    ranked = sorted(range(len(sentences)), key=lambda i: -len(wanted & _terms(sentences[i])))
    chosen = sorted(ranked[:3])
    return _clip(" ".join(sentences[i] for i in chosen))


def _private(passage: Passage) -> bool:
    """Not to be quoted in a reply: an internal note, or an internal article. A solved ticket's
    conversation is internal too (staff knowledge), but a draft may adapt its resolution for
    this ticket's customer: an agent reviews the draft before it is sent."""
    if passage.kind == _TICKET:
        return passage.note
    return passage.audience != deskpilot.Audience.PUBLIC


def gather(platform: deskpilot.Platform, connector_name: str | None,
           ticket: deskpilot.Ticket | str) -> tuple[list[Passage], list[Passage], list[Passage]]:
    """Public articles, similar solved tickets' conversations and internal notes for a ticket, the
    ticket itself left out; each document once as shareable, once as private."""
    query, own_id = _query(ticket)
    hits = platform.search(query, SEARCH_RESULTS, filter=None, per_document=False)
    seen: set[tuple[str, str, str, bool]] = set()
    articles, tickets, internal = [], [], []
    for hit in hits:
        key = (hit.source, str(hit.kind), hit.document_id, _private(hit))
        own = hit.kind == _TICKET and hit.document_id == own_id and (
            connector_name is None or hit.source == connector_name)
        if own or key in seen:
            continue
        seen.add(key)
        if _private(hit):
            internal.append(hit)
        elif hit.kind == _TICKET:
            tickets.append(hit)
        else:
            articles.append(hit)
    return articles[:ARTICLES], tickets[:TICKETS], internal[:TICKETS]


def _source(passage: Passage) -> DraftSource:
    return DraftSource(title=passage.title, url=passage.url, kind=str(passage.kind),
                       audience=passage.audience, document_id=passage.document_id,
                       connector=passage.source)


def _source_lines(passages: list[Passage]) -> list[str]:
    lines = []
    for n, p in enumerate(passages, start=1):
        what = "Solved ticket" if p.kind == _TICKET else "Article"
        if _private(p):
            what = f"Internal note on ticket {p.document_id} ({INTERNAL_LABEL})"
        elif p.kind == _TICKET:
            what = f"Solved ticket {p.document_id}"
        lines.append(f"[{n}] {what}: {p.title}" + (f" — {p.url}" if p.url else ""))
    return lines


def _offline_reply(query: str, articles: list[Passage], tickets: list[Passage]) -> str:
    parts = []
    if tickets:
        parts.append(f"{resolution(tickets[0], query)} [{len(articles) + 1}]")
    if articles:
        parts.append(f"{article_excerpt(articles[0], query)} [1]")
    if not parts:
        return ("(No matching article or solved ticket was found: this ticket needs a reply "
                "written from scratch.)")
    return "Hi,\n\nThanks for reaching out.\n\n" + "\n\n".join(parts) + "\n\nBest regards"


def _llm_reply(platform: deskpilot.Platform, query: str, articles: list[Passage],
               tickets: list[Passage], internal: list[Passage]) -> str:
    from agents import Agent, RunConfig, Runner

    settings = platform.settings.agent
    numbered = [*articles, *tickets, *internal]
    context = "\n\n".join(
        f"[{n}] ({'INTERNAL' if _private(p) else 'public'}) "
        f"{p.title}\n{_clip(p.text, 1500)}" for n, p in enumerate(numbered, start=1)
    )
    # A model per draft: its async HTTP client must not outlive this call's event loop.
    agent = Agent(name=f"{settings.name} drafts", model=platform.model(shared=False),
                  instructions=DRAFT_INSTRUCTIONS.replace("{company}", settings.company))
    prompt = f"Ticket:\n{query}\n\nSources:\n{context or '(none found)'}"
    # Called from worker threads (routes, webhooks), where no event loop runs.
    result = asyncio.run(Runner.run(agent, prompt, run_config=RunConfig(tracing_disabled=True)))
    return str(result.final_output).strip()


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def internal_leak(reply: str, numbered: list[Passage]) -> str | None:
    """How a reply reveals an internal source, if it does: by citing its number, or by quoting
    QUOTE_WORDS of its words in a row. `numbered` is in prompt order ([1] first)."""
    words = _words(reply)
    said = {tuple(words[i:i + QUOTE_WORDS]) for i in range(len(words) - QUOTE_WORDS + 1)}
    for n, passage in enumerate(numbered, start=1):
        if not _private(passage):
            continue
        if re.search(rf"\[{n}\]", reply):
            return f"it cites internal source [{n}]"
        source = _words("\n".join(_body_lines(passage)))
        if any(tuple(source[i:i + QUOTE_WORDS]) in said
               for i in range(len(source) - QUOTE_WORDS + 1)):
            return f"it quotes internal source [{n}]"
    return None


def draft_for_ticket(platform: deskpilot.Platform, connector_name: str | None,
                     ticket: deskpilot.Ticket | str) -> Draft:
    """A cited reply draft for a ticket (or a ticket's text). Blocking: call it from a thread."""
    query, _ = _query(ticket)
    articles, tickets, internal = gather(platform, connector_name, ticket)
    generated_by = "offline"
    reply = _offline_reply(query, articles, tickets)
    cited = [*articles, *tickets, *internal]  # the prompt's numbering
    if platform.settings.agent.provider != "offline":
        try:
            written = _llm_reply(platform, query, articles, tickets, internal)
        except Exception as exc:  # the extractive draft is still useful to the agent
            log.warning("LLM draft failed, falling back to the extractive draft: %s", exc)
        else:
            if (leak := internal_leak(written, cited)) is None:
                reply, generated_by = written, platform.settings.agent.model
            else:
                log.warning("LLM draft discarded, %s; using the extractive draft", leak)
    body = f"{DRAFT_MARKER}\n\n{reply}\n\n---\nSources:\n" + "\n".join(
        _source_lines(cited) or ["(none)"])
    return Draft(body=body, sources=[_source(p) for p in cited], generated_by=generated_by)


def post_draft_note(platform: deskpilot.Platform, connector_name: str, ticket_id: str,
                    draft: Draft) -> None:
    """Put the draft on the ticket as an internal note. Raises UnknownConnector, NotSupported,
    or the connector's own error (helpdesk down)."""
    connector = platform.connector(connector_name)
    if deskpilot.Capability.NOTES not in connector.capabilities:
        raise deskpilot.NotSupported(f"connector {connector_name!r} cannot post notes")
    connector.add_note(ticket_id, draft.body)
