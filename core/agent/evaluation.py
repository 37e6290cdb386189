"""`deskpilot eval answers`: the real customer agent over a set of questions, scored; and
`deskpilot eval drafts`: reply drafts for tickets, against the replies agents really sent.

The knowledge is indexed into the platform's (throw-away) data dir: an articles JSONL file
(`{id, title, body_html, url?}`, as `eval retrieval` reads it) or a configured connector
synced the usual way. Each question then runs through `build_customer_agent` and the
Agents SDK Runner with whichever provider is configured, exactly as a chat turn does.

Per question: **answered** when the reply cites at least one source (a `url_citation`, or,
for an LLM that writes plain text, the title or URL of a passage the tools returned appearing
in it); **correct** when a cited source is one of the question's answering articles.
Figures: the answered rate and the correct rate among answered questions (in scope), and
the hand-over rate on out-of-scope questions (`--oos`, `{text}` or `{query}` lines). A line
may carry `before`: the customer's earlier messages in the same conversation, asked first
(their answers are not scored), so follow-ups ("how long does that take?") can be measured.

Drafts (`evaluate_drafts`): tickets JSONL `{subject?, description | query, reply, requester?}`
with the reply an agent really sent. Each ticket is drafted by whichever plugin drafts
(hook `draft_reply`: the copilot, offline or through the configured LLM), and the draft and a
baseline — the top article's first paragraph — are compared with the real reply: the cosine
similarity of what they say (the configured embedder; greetings, sign-offs and citation marks
left out), and the share of the real reply's KEY_SENTENCES most question-like sentences that a
sentence of theirs covers (similarity COVERED_AT or more).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from agents import Runner

from deskpilot._documents import Audience, DocumentKind, Person, Ticket
from deskpilot._search import SearchFilter
from deskpilot.core.agent import build_customer_agent
from deskpilot.core.agent.extractive import general, sentences
from deskpilot.knowledge.distribution import distribution
from deskpilot.knowledge.evaluation import (
    Split,
    answering_ids,
    build_index,
    in_split,
    read_articles,
    read_questions,
)
from deskpilot.knowledge.jsonl import read_jsonl
from deskpilot.knowledge.text import html_to_text

if TYPE_CHECKING:
    from deskpilot.core.services import Services

# Articles without a URL get one, so that citations name them like any other source.
EVAL_URL = "https://eval.invalid/articles/{id}"


@dataclass
class Row:
    question: str
    in_scope: bool
    answered: bool
    correct: bool | None  # None for out-of-scope questions
    expected: list[str]
    cited: list[str] = field(default_factory=list)
    answer: str = ""
    before: list[str] = field(default_factory=list)  # the customer's earlier messages


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sync(services: Services, connector: str, knowledge: SearchFilter | None = None) -> None:
    """The eval's own sync of `connector`. Figures from a failed sync, or one that indexed no
    `knowledge`, would not be about that help center (was: every article failed, and the eval
    printed "answered 0 %"): a ValueError then, naming why."""
    run = services.sync(connector)
    failures = run.failures or []
    first = f" (first: {failures[0]['document']}: {failures[0]['error']})" if failures else ""
    if run.status != "succeeded":
        raise ValueError(f"the sync of {connector!r} {run.status}: {run.error}")
    if not services.index.count(knowledge):
        raise ValueError(f"the sync of {connector!r} indexed nothing to answer from"
                         f"{f'; {run.failed} document(s) failed{first}' if run.failed else ''}")
    if run.failed:
        _log(f"warning: {run.failed} document(s) of {connector!r} failed to sync{first}; "
             "the figures leave them out")


def _question(record: dict[str, Any]) -> str:
    text = record.get("query", record.get("text"))
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a line has no question text (query or text): {record!r:.80}")
    return text


def _before(record: dict[str, Any]) -> list[str]:
    before = record.get("before", [])
    if not isinstance(before, list) or not all(isinstance(m, str) and m.strip() for m in before):
        raise ValueError(f"'before' must be a list of the customer's earlier messages: "
                         f"{record!r:.80}")
    return before


def load_articles(path: Path) -> list[dict[str, Any]]:
    """Articles JSONL records, each with a URL (made up when it has none)."""
    records = read_articles(path)
    for record in records:
        record.setdefault("url", EVAL_URL.format(id=record["id"]))
    return records


def _passages(result: Any) -> list[dict[str, Any]]:
    """Every passage the run's tools returned (tool outputs in the search tools' JSON)."""
    found: list[dict[str, Any]] = []
    for item in result.new_items:
        if item.type != "tool_call_output_item":
            continue
        try:
            found += json.loads(item.output)["passages"]
        except (TypeError, ValueError, KeyError):
            continue
    return found


def cited_documents(result: Any) -> list[str]:
    """The document ids the final answer cites, in citation order."""
    passages = _passages(result)
    by_url = {p.get("url"): p["document_id"] for p in passages if p.get("url")}
    cited: list[str] = []
    messages = [item.raw_item for item in result.new_items if item.type == "message_output_item"]
    annotations = [a for m in messages[-1:] for part in m.content
                   for a in getattr(part, "annotations", None) or []]
    for annotation in annotations:
        url = getattr(annotation, "url", None)
        if url in by_url and by_url[url] not in cited:
            cited.append(by_url[url])
    if not annotations:
        text = str(result.final_output or "")
        for p in passages:
            named = p["title"] in text or (p.get("url") and p["url"] in text)
            if named and p["document_id"] not in cited:
                cited.append(p["document_id"])
    return cited


async def _ask(services: Services, question: str, before: list[str]
               ) -> tuple[str, list[str]]:
    """The answer to `question` and what it cites, after the conversation's `before` turns."""
    agent, run_config = build_customer_agent(services), services.run_config(
        "deskpilot eval answers")
    conversation: list[Any] = []
    for message in before:
        earlier = await Runner.run(agent, [*conversation, {"role": "user", "content": message}],
                                   run_config=run_config)
        conversation = earlier.to_input_list()
    result = await Runner.run(
        agent, [*conversation, {"role": "user", "content": question}] if before else question,
        run_config=run_config)
    return str(result.final_output or ""), cited_documents(result)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


async def evaluate_answers(
    services: Services,
    queries_path: Path,
    *,
    articles_path: Path | None = None,
    connector: str | None = None,
    oos_path: Path | None = None,
    split: Split = "all",
    rows: bool = False,
    progress: bool = True,
    limit: int | None = None,
) -> dict[str, Any]:
    """Index the knowledge into `services` (its data dir should be a throw-away one), ask every
    question of `split` (and every out-of-scope one) and return the figures."""
    log: Callable[[str], None] = _log if progress else (lambda _: None)
    questions = [q for q in read_questions(queries_path) if in_split(q, split)]
    asked = [(_question(q), answering_ids(q), _before(q)) for q in questions][:limit]
    out_of_scope = [(_question(q), _before(q))
                    for q in read_jsonl(oos_path, what="out-of-scope questions")
                    ][:limit] if oos_path else []
    started = time.perf_counter()
    services.migrate()
    if articles_path is not None:
        build_index(load_articles(articles_path), services.embedder, services.index, progress)
        services.index.calibrate()  # the knowledge base's own λ, as a sync computes it
    if connector is not None:
        _sync(services, connector, SearchFilter(audience=Audience.PUBLIC))
    results: list[Row] = []
    total = len(asked) + len(out_of_scope)
    for i, (question, expected, before, in_scope) in enumerate(
        [(q, e, b, True) for q, e, b in asked] + [(q, [], b, False) for q, b in out_of_scope], 1
    ):
        answer, cited = await _ask(services, question, before)
        answered = bool(cited)
        correct = (answered and bool(set(cited) & set(expected))) if in_scope else None
        results.append(Row(question, in_scope, answered, correct, expected, cited, answer,
                           before))
        if i % 50 == 0:
            log(f"asked {i}/{total} questions")
    in_rows = [r for r in results if r.in_scope]
    answered = [r for r in in_rows if r.answered]
    oos_rows = [r for r in results if not r.in_scope]
    figures: dict[str, Any] = {
        "provider": services.settings.agent.provider,
        "split": split,
        # What the offline answer rule reads the search scores with (docs/offline-model.md).
        "lexical_weight": services.searcher.lexical_weight(),
        "in_scope": {
            "n": len(in_rows),
            "answered": _rate(len(answered), len(in_rows)),
            "correct_among_answered": _rate(sum(bool(r.correct) for r in answered),
                                            len(answered)),
        },
    }
    if oos_path is not None:
        figures["out_of_scope"] = {
            "n": len(oos_rows),
            "handed_over": _rate(sum(not r.answered for r in oos_rows), len(oos_rows)),
        }
    if rows:
        figures["rows"] = [asdict(r) for r in results]
    log(f"asked {total} questions in {time.perf_counter() - started:.1f} s")
    return figures


# -- eval drafts -----------------------------------------------------------------------------
# The real reply's sentences that say most about the question: what a draft should cover.
KEY_SENTENCES = 3
# A key sentence is covered when a sentence of the draft is this similar to it (cosine of the
# configured embedder): with all-MiniLM-L6-v2, paraphrases of one statement score above it,
# sentences that only share a topic below.
COVERED_AT = 0.7
_CITATION = re.compile(r"\s*\[\d+\]")
_LIST_MARK = re.compile(r"^(\d+[.)]|[-*•])\s+")
# A line with a sentence of more words than this is a paragraph, not a heading ("Forgot it?").
PARAGRAPH_WORDS = 4


@dataclass
class DraftRow:
    ticket: str
    reply: str  # the real agent's reply
    draft: str
    baseline: str  # the top article's first paragraph
    similarity: float
    baseline_similarity: float
    coverage: float | None  # None when the real reply has no sentence to cover
    baseline_coverage: float | None
    key_sentences: list[str]
    generated_by: str


def _ticket_of(record: dict[str, Any], number: int) -> Ticket:
    text = record.get("description", record.get("query", record.get("text", "")))
    subject = record.get("subject", "")
    reply = record.get("reply")
    if not isinstance(reply, str) or not reply.strip():
        raise ValueError(f"ticket {number} has no real reply (reply): {record!r:.80}")
    if not isinstance(text, str) or not isinstance(subject, str) or not (text or subject):
        raise ValueError(f"ticket {number} has no text (subject, description or query): "
                         f"{record!r:.80}")
    requester = record.get("requester")
    if isinstance(requester, str):
        requester = {"name": requester}
    return Ticket(id=str(record.get("id", f"eval-{number}")), subject=subject, description=text,
                  requester=Person.model_validate(requester) if requester else None,
                  status="open")


def content_sentences(text: str) -> list[str]:
    """What a reply says, sentence by sentence: citations, greetings and sign-offs left out
    (extractive.general), list items as sentences."""
    found = []
    for line in text.splitlines():
        line = _LIST_MARK.sub("", _CITATION.sub("", line)).strip()
        if not line:
            continue
        parts = sentences(line) or ([line] if len(line.split()) >= 3 else [])
        found += [part for part in parts if general(part)]
    return found


def first_paragraph(text: str, title: str = "") -> str:
    """The first line of a text (one block per line, as indexed) that is a paragraph: not the
    title, not a heading (a heading may end in "?", but is short)."""
    for line in text.splitlines():
        line = line.strip()
        words = len(line.split())
        if line != title.strip() and ((sentences(line) and words > PARAGRAPH_WORDS)
                                      or words > 12):
            return line
    return ""


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _baselines(services: Services, query: str, bodies: dict[str, tuple[str, str]]) -> str:
    """The top article's first paragraph: from its body when the articles file gave it, else
    from the passage the search ranked first."""
    hits = services.search(query, 5, SearchFilter(kind=DocumentKind.ARTICLE))
    if not hits:
        return ""
    top = hits[0]
    if top.document_id in bodies:
        title, body = bodies[top.document_id]
        return first_paragraph(body, title)
    return first_paragraph(top.text, top.title)


def _score(services: Services, question: str, reply: str, draft: str, baseline: str
           ) -> tuple[float, float, float | None, float | None, list[str]]:
    """Similarity of the draft and of the baseline to the real reply, and the share of the
    real reply's key sentences each covers."""
    said = content_sentences(reply)
    drafted, based = content_sentences(draft), content_sentences(baseline)
    texts = [question, " ".join(said) or reply, " ".join(drafted), " ".join(based),
             *said, *drafted, *based]
    vectors = _unit(np.asarray(services.embedder.embed_documents(texts), dtype=np.float32))
    q, real, whole_draft, whole_base = vectors[:4]
    rest = vectors[4:]
    key_vectors, draft_vectors = rest[:len(said)], rest[len(said):len(said) + len(drafted)]
    base_vectors = rest[len(said) + len(drafted):]
    similarity = float(real @ whole_draft) if drafted else 0.0
    baseline_similarity = float(real @ whole_base) if based else 0.0
    if not said:
        return similarity, baseline_similarity, None, None, []
    chosen = sorted(np.argsort(-(key_vectors @ q))[:KEY_SENTENCES].tolist())
    keys = key_vectors[chosen]

    def covered(candidates: np.ndarray) -> float:
        if not len(candidates):
            return 0.0
        return float(np.mean((keys @ candidates.T).max(axis=1) >= COVERED_AT))

    return (similarity, baseline_similarity, covered(draft_vectors), covered(base_vectors),
            [said[i] for i in chosen])


def evaluate_drafts(
    services: Services,
    tickets_path: Path,
    *,
    articles_path: Path | None = None,
    connector: str | None = None,
    rows: bool = False,
    progress: bool = True,
    limit: int | None = None,
) -> dict[str, Any]:
    """Index the knowledge into `services` (a throw-away data dir), draft a reply to every
    ticket through the plugin that drafts (hook `draft_reply`, the configured provider) and
    compare each draft, and the baseline, with the ticket's real reply."""
    log: Callable[[str], None] = _log if progress else (lambda _: None)
    tickets = [(_ticket_of(r, n), r["reply"])
               for n, r in enumerate(read_jsonl(tickets_path, what="tickets"), 1)][:limit]
    started = time.perf_counter()
    services.migrate()
    bodies: dict[str, tuple[str, str]] = {}
    if articles_path is not None:
        articles = load_articles(articles_path)
        bodies = {str(a["id"]): (str(a.get("title", "")), html_to_text(a.get("body_html", "")))
                  for a in articles}
        build_index(articles, services.embedder, services.index, progress)
    if connector is not None:
        _sync(services, connector)
    results: list[DraftRow] = []
    for i, (ticket, reply) in enumerate(tickets, 1):
        draft = services.plugins.first("draft_reply", platform=services, ticket=ticket,
                                       connector=None)
        if draft is None:
            raise ValueError("no plugin drafts replies (hook draft_reply): is the copilot "
                             "plugin enabled?")
        question = "\n".join(p for p in (ticket.subject, ticket.description) if p)
        baseline = _baselines(services, question, bodies)
        scores = _score(services, question, reply, draft["reply"], baseline)
        results.append(DraftRow(question, reply, draft["reply"], baseline, *scores[:4],
                                key_sentences=scores[4], generated_by=draft["generated_by"]))
        if i % 25 == 0:
            log(f"drafted {i}/{len(tickets)} replies")
    similarity = [r.similarity for r in results]
    base_similarity = [r.baseline_similarity for r in results]
    covered = [r.coverage for r in results if r.coverage is not None]
    base_covered = [r.baseline_coverage for r in results if r.baseline_coverage is not None]
    figures: dict[str, Any] = {
        "provider": services.settings.agent.provider,
        "n": len(results),
        "generated_by": dict(Counter(r.generated_by for r in results)),
        "similarity": {"draft": distribution(similarity),
                       "baseline": distribution(base_similarity)},
        "key_sentences_covered": {"draft": distribution(covered),
                                  "baseline": distribution(base_covered)},
        # Per ticket: the draft closer to the real reply than the baseline is.
        "draft_more_similar": _rate(sum(d > b for d, b in zip(similarity, base_similarity,
                                                              strict=True)), len(results)),
        "covered_at": COVERED_AT,
        "key_sentences": KEY_SENTENCES,
    }
    if rows:
        figures["rows"] = [asdict(r) for r in results]
    log(f"drafted {len(results)} replies in {time.perf_counter() - started:.1f} s")
    return figures
