"""Cited reply drafts for human agents.

A draft answers a ticket from public articles, similar solved tickets and internal notes. It
is for a human agent to review, never sent by itself: the body opens with DRAFT_MARKER, and
internal knowledge appears only in its agent-facing source list, never in the proposed reply.

Offline (`agent.provider = "offline"`) the reply is extractive, built as a person would write
it: a greeting with the requester's name, then the sentences that answer the question — from
articles, and from solved tickets only what their agents said in public (each line of an
indexed ticket knows its author), without greetings, sign-offs or what was done on that one
account — whole sentences, steps kept as steps, plain text, each part cited by number
(deskpilot.extractive, the offline model's own sentence selection). With an LLM, the same
sources are numbered in the prompt and the model writes the reply; the source list is always
built here, not by the model. The prompt tells the model to keep internal sources out of the
reply, and a reply that cites one or quotes one (QUOTE_WORDS words in a row) is replaced by the
extractive draft: paraphrase cannot be caught this way, which is one more reason a person
reviews every draft.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

import deskpilot
from deskpilot import Passage
from deskpilot.extractive import Rank, Source, general, render, select, sentences

log = logging.getLogger(__name__)

DRAFT_MARKER = "DRAFT — review before sending"
INTERNAL_LABEL = "internal, do not share with the customer"
SEARCH_RESULTS = 12
ARTICLES = 2
TICKETS = 2
EXCERPT_CHARS = 1500
# About this many words of quoted knowledge in an offline reply (a list of steps stays whole).
REPLY_WORDS = 120
# This many consecutive words of an internal source in an LLM reply count as quoting it.
QUOTE_WORDS = 8
DRAFT_INSTRUCTIONS = (
    "You draft replies for a human support agent of {company}, who will review and edit them "
    "before sending. Write the reply to the customer only from the numbered public sources, "
    "citing them like [1]. Internal sources are context for the agent: never quote or reveal "
    "them in the reply. Greet the customer by name when the ticket gives one, answer their "
    "question first, in plain text. If the sources do not answer the ticket, say what is "
    "missing instead of guessing. Reply with the message text only."
)
NOTHING_FOUND = ("(No matching article or solved ticket was found: this ticket needs a reply "
                 "written from scratch.)")
CLOSING = "Best regards"

_TICKET = deskpilot.DocumentKind.TICKET
_WORD = re.compile(r"[a-z0-9]+")
_LIST_LINE = re.compile(r"^(\d+[.)]|[-*•])\s+")
# A name signed at the end of the message: "- Maria", "Thanks, Maria", "Cheers,\nMaria".
_SIGNATURE = re.compile(
    r"(?:^|\s)(?:[-–—~]\s*|(?:many thanks|thanks|thank you|cheers|regards|best regards|"
    r"kind regards|best)[,!.]?\s+)([A-Z][\w'’-]{1,30})[.!]?\s*$", re.IGNORECASE)
_NOT_NAMES = frozenset({"thanks", "regards", "cheers", "best", "please", "help", "asap",
                        "urgent", "anyone", "everyone", "team", "support"})


class DraftSource(BaseModel):
    title: str
    url: str | None
    kind: str  # article | ticket
    audience: deskpilot.Audience
    document_id: str
    connector: str


class Draft(BaseModel):
    body: str  # the marker, the proposed reply and the source list, as posted on the ticket
    reply: str  # the proposed reply alone, for the customer once a person has reviewed it
    sources: list[DraftSource]
    draft: bool = True  # never send as is: a person reviews it
    generated_by: str  # "offline" or the model name


def _query(ticket: deskpilot.Ticket | str) -> tuple[str, str | None]:
    if isinstance(ticket, deskpilot.Ticket):
        return "\n".join(p for p in (ticket.subject, ticket.description) if p), ticket.id
    return ticket, None


def requester_name(ticket: deskpilot.Ticket | str) -> str | None:
    """The first name to greet: the requester's as the helpdesk knows them, else a name the
    customer signed the message with."""
    if isinstance(ticket, deskpilot.Ticket):
        if ticket.requester and ticket.requester.name and ticket.requester.name.strip():
            return ticket.requester.name.split()[0]
        text = ticket.description or ticket.subject
    else:
        text = ticket
    signed = _SIGNATURE.search(text.strip())
    if signed and signed.group(1).lower() not in _NOT_NAMES:
        return signed.group(1)
    return None


def _clip(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _body_lines(passage: Passage) -> list[str]:
    # Chunks carry their title as the first line.
    lines = [line.strip() for line in passage.text.splitlines() if line.strip()]
    return lines[1:] if len(lines) > 1 and lines[0] == passage.title.strip() else lines


def agent_lines(passage: Passage) -> list[str]:
    """What the ticket's agents wrote in this passage, line by line; nothing when the index
    does not say who wrote what (a ticket indexed before authors were recorded)."""
    lines = passage.text.split("\n")
    if len(passage.authors) != len(lines):
        return []
    return [line.strip() for line, author in zip(lines, passage.authors, strict=True)
            if author == "agent" and line.strip()]


def _general_text(line: str) -> str:
    """An agent's line with only the sentences worth repeating to another customer."""
    if _LIST_LINE.match(line):  # a step or an item: one unit, kept or left out whole
        return line if general(_LIST_LINE.sub("", line)) else ""
    return " ".join(s for s in sentences(line) if general(s))


@dataclass
class _Found:
    """A document the search found for the ticket, with all its passages among the hits."""

    passages: list[Passage]

    @property
    def best(self) -> Passage:
        return self.passages[0]

    def reply_source(self) -> Source | None:
        """The text a reply may quote from: an article's best passage; a solved ticket's
        agents' general sentences from every passage found (a lead passage repeats the start
        of a longer one: only the longer line is kept)."""
        best = self.best
        if best.kind != _TICKET:
            return Source(best.title, best.url, best.text, best.score, best.locale)
        lines: list[str] = []
        for passage in sorted(self.passages, key=lambda p: p.position):
            lines += [line for line in agent_lines(passage) if line not in lines]
        lines = [line for line in lines if not any(
            other != line and other.startswith(line) for other in lines)]
        kept = [text for text in map(_general_text, lines) if text]
        if not kept:
            return None
        return Source(best.title, best.url, "\n".join([best.title, *kept]), best.score,
                      best.locale)


def _private(passage: Passage) -> bool:
    """Not to be quoted in a reply: an internal note, or an internal article. A solved ticket's
    conversation is internal too (staff knowledge), but a draft may adapt what its agents said
    for this ticket's customer: an agent reviews the draft before it is sent."""
    if passage.kind == _TICKET:
        return passage.note
    return passage.audience != deskpilot.Audience.PUBLIC


def gather(platform: deskpilot.Platform, connector_name: str | None,
           ticket: deskpilot.Ticket | str) -> tuple[list[_Found], list[_Found], list[_Found]]:
    """Public articles, similar solved tickets and internal notes for a ticket, best first, the
    ticket itself left out; each document once as shareable, once as private."""
    query, own_id = _query(ticket)
    hits = platform.search(query, SEARCH_RESULTS, filter=None, per_document=False)
    found: dict[tuple[str, str, str, bool], _Found] = {}
    for hit in hits:
        own = hit.kind == _TICKET and hit.document_id == own_id and (
            connector_name is None or hit.source == connector_name)
        if own:
            continue
        key = (hit.source, str(hit.kind), hit.document_id, _private(hit))
        found.setdefault(key, _Found([])).passages.append(hit)
    articles, tickets, internal = [], [], []
    for document in found.values():
        if _private(document.best):
            internal.append(document)
        elif document.best.kind == _TICKET:
            tickets.append(document)
        else:
            articles.append(document)
    return articles[:ARTICLES], tickets[:TICKETS], internal[:TICKETS]


def _source(passage: Passage) -> DraftSource:
    return DraftSource(title=passage.title, url=passage.url, kind=str(passage.kind),
                       audience=passage.audience, document_id=passage.document_id,
                       connector=passage.source)


def _source_lines(passages: list[Passage]) -> list[str]:
    """The footer for the agent: every source by number; internal ones say so here, and only
    here (the reply cites numbers only)."""
    lines = []
    for n, p in enumerate(passages, start=1):
        if p.kind == _TICKET and p.note:
            what = f"Internal note on ticket {p.document_id} ({INTERNAL_LABEL})"
        elif p.kind == _TICKET:
            what = f"Solved ticket {p.document_id} (internal: another customer's ticket)"
        elif _private(p):
            what = f"Internal article ({INTERNAL_LABEL})"
        else:
            what = "Article"
        lines.append(f"[{n}] {what}: {p.title}" + (f" — {p.url}" if p.url else ""))
    return lines


def greeting(name: str | None) -> str:
    return f"Hi {name}," if name else "Hi,"


def similarity_to(embedder: deskpilot.Embedder, query: str) -> Rank:
    """Sentences ranked by meaning: their cosine similarity to the question (the configured
    embedder), so a draft quotes what answers it even in other words."""
    import numpy as np

    def unit(vectors: Any) -> Any:
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)

    question = unit(embedder.embed_query(query))

    def rank(texts: Sequence[str]) -> list[float]:
        return (unit(embedder.embed_documents(list(texts))) @ question).tolist() if texts else []

    return rank


def offline_reply(query: str, name: str | None, numbered: list[_Found],
                  rank: Rank | None = None) -> str:
    """The extractive reply: the greeting, then the sentences of the sources that best answer
    the question (by `rank`, else by its words), best first, each excerpt cited by its number
    in `numbered`."""
    sources = {}
    for n, document in enumerate(numbered, start=1):
        if not _private(document.best) and (source := document.reply_source()) is not None:
            sources[id(source)] = (n, source)
    excerpts = select(query, [source for _, source in sources.values()], REPLY_WORDS,
                      whole=True, rank=rank)
    if not excerpts:
        return NOTHING_FOUND
    parts = [f"{render(e)} [{sources[id(e.source)][0]}]" for e in excerpts]
    return "\n\n".join([greeting(name), *parts, CLOSING])


def _llm_text(document: _Found) -> str:
    """What the model reads of a source: a solved ticket's agents' replies only (what the
    customer wrote is not for quoting), anything else as indexed."""
    if document.best.kind == _TICKET and not document.best.note:
        source = document.reply_source()
        return _clip("\n".join(source.text.splitlines()[1:])) if source else ""
    return _clip("\n".join(_body_lines(document.best)))


def _llm_reply(platform: deskpilot.Platform, query: str, name: str | None,
               numbered: list[_Found]) -> str:
    from agents import Agent, RunConfig, Runner

    settings = platform.settings.agent
    context = "\n\n".join(
        f"[{n}] ({'INTERNAL' if _private(d.best) else 'public'}) {d.best.title}\n{_llm_text(d)}"
        for n, d in enumerate(numbered, start=1))
    # A model per draft: its async HTTP client must not outlive this call's event loop.
    agent = Agent(name=f"{settings.name} drafts", model=platform.model(shared=False),
                  instructions=DRAFT_INSTRUCTIONS.replace("{company}", settings.company))
    requester = f"Requester: {name}\n" if name else ""
    prompt = f"{requester}Ticket:\n{query}\n\nSources:\n{context or '(none found)'}"
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
    name = requester_name(ticket)
    articles, tickets, internal = gather(platform, connector_name, ticket)
    numbered = [*articles, *tickets, *internal]  # the prompt's and the footer's numbering
    cited = [document.best for document in numbered]
    reply: str | None = None
    generated_by = "offline"
    if platform.settings.agent.provider != "offline":
        try:
            written = _llm_reply(platform, query, name, numbered)
        except Exception as exc:  # the extractive draft is still useful to the agent
            log.warning("LLM draft failed, falling back to the extractive draft: %s", exc)
        else:
            if (leak := internal_leak(written, cited)) is None:
                reply, generated_by = written, platform.settings.agent.model
            else:
                log.warning("LLM draft discarded, %s; using the extractive draft", leak)
    if reply is None:  # built only when needed: ranking its sentences embeds them all
        reply = offline_reply(query, name, numbered, similarity_to(platform.embedder, query))
    body = f"{DRAFT_MARKER}\n\n{reply}\n\n---\nSources:\n" + "\n".join(
        _source_lines(cited) or ["(none)"])
    return Draft(body=body, reply=reply, sources=[_source(p) for p in cited],
                 generated_by=generated_by)


def post_draft_note(platform: deskpilot.Platform, connector_name: str, ticket_id: str,
                    draft: Draft) -> None:
    """Put the draft on the ticket as an internal note. Raises UnknownConnector, NotSupported,
    or the connector's own error (helpdesk down)."""
    connector = platform.connector(connector_name)
    if deskpilot.Capability.NOTES not in connector.capabilities:
        raise deskpilot.NotSupported(f"connector {connector_name!r} cannot post notes")
    connector.add_note(ticket_id, draft.body)
