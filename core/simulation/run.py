"""`deskpilot simulate`: replay solved past tickets through the real chat and score the run.

The platform is a throw-away one (its data dir a temp dir): the knowledge is indexed into it
(`--articles`, as `eval answers` reads them, else the configured connectors synced), and so are
the tickets to replay (from `--connector NAME`, or `--tickets FILE` through `TicketFile`), so
triage and the snippets plugin see them as they would in production. Each ticket's opening is
then sent as a new conversation (conversation.py) on a `SimulationServices` that leaves the
ticket and what was distilled from it out of every search, and whose triage learns only from
the other fold of the replayed tickets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deskpilot._documents import Ticket
from deskpilot._events import Event, TicketsSynced
from deskpilot.core.agent.offline import ANSWER_RULE
from deskpilot.core.simulation.conversation import Conversation
from deskpilot.core.simulation.platform import SimulationServices, Usage
from deskpilot.core.simulation.report import SCHEMA, summarize
from deskpilot.core.simulation.tickets import (
    FILE_SOURCE,
    TicketFile,
    fold,
    human_reply,
    opening,
    read_tickets,
    replayable,
)

if TYPE_CHECKING:
    from deskpilot.core.config import AgentSettings

#: The confidence the deflection forecast is read at unless told: the offline model's own
#: bar for answering (its AnswerRule.min_cosine, on the same measure as a row's confidence).
DEFAULT_THRESHOLD = ANSWER_RULE.min_cosine
#: An answer less similar than this to the human's reply counts as probably wrong. A fixed
#: rule of thumb for MiniLM-like embedders, not tuned on any data set: pass your own.
DEFAULT_WRONG_BELOW = 0.5

Progress = Callable[[int, int], None]


class CapturingServices(SimulationServices):
    """The platform the knowledge is built on: keeps the tickets each sync applied."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.synced: dict[str, dict[str, Ticket]] = {}

    def emit(self, event: Event) -> None:
        if isinstance(event, TicketsSynced):
            kept = self.synced.setdefault(event.connector, {})
            kept.update({t.id: t for t in event.tickets})
        super().emit(event)


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return round(dot / norm, 4) if norm else 0.0


def cost_estimate(agent: AgentSettings, usage: Usage, conversations: int
                  ) -> dict[str, Any] | None:
    """With an LLM: the conversations' tokens, and what 1,000 would cost at `[agent.prices]`."""
    if agent.provider == "offline":
        return None
    price = agent.prices.get(agent.model)
    per_1000 = None
    if price is not None and conversations:
        spent = price.cost(usage.input_tokens, usage.output_tokens)
        per_1000 = round(spent / conversations * 1000, 4)
    return {"requests": usage.requests, "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens, "currency": agent.currency,
            "per_1000_conversations": per_1000,
            "priced": price is not None}


def _triage(services: SimulationServices, ticket: Ticket, text: str) -> dict[str, Any] | None:
    if not ticket.category:
        return None
    from deskpilot.knowledge.tickets import ticket_text

    result = services.triage(ticket_text(ticket.subject, text)) or {}
    predicted = result.get("category")
    return {"label": ticket.category, "predicted": predicted,
            "abstained": bool(result.get("abstained", predicted is None)),
            "correct": predicted is not None
            and str(predicted).lower() == ticket.category.lower()}


async def simulate(
    base: CapturingServices,
    *,
    tickets_path: Path | None = None,
    connector: str | None = None,
    articles_path: Path | None = None,
    limit: int | None = None,
    since: datetime | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    wrong_below: float = DEFAULT_WRONG_BELOW,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build the knowledge into `base` (a throw-away platform), replay, and return the report."""
    from deskpilot.core.agent.evaluation import load_articles
    from deskpilot.core.chat.runtime import build_chat
    from deskpilot.knowledge.evaluation import build_index

    base.migrate()
    if articles_path is not None:
        build_index(load_articles(articles_path), base.embedder, base.index, False)
    if tickets_path is not None:
        source = FILE_SOURCE
        base.connectors = {**base.connectors, source: TicketFile(read_tickets(tickets_path))}
        syncing = [source]
    else:
        assert connector is not None
        source = connector
        syncing = [connector]
    if articles_path is None:  # the knowledge the agent answers from in production
        syncing += [name for name in base.connectors if name not in syncing]
    for name in syncing:
        base.sync(name)
    tickets = replayable(list(base.synced.get(source, {}).values()), since, limit)
    if not tickets:  # a report of nothing forecasts nothing
        where = tickets_path if tickets_path is not None else f"connector {connector!r}"
        raise ValueError(f"no solved or closed tickets to replay in {where}"
                         + (f" updated since {since:%Y-%m-%d}" if since else ""))

    rows: list[dict[str, Any]] = []
    usage = Usage()
    answers: list[tuple[int, str, str]] = []  # (row, answer, human reply) to compare
    done = 0
    for part in (0, 1):
        replayed = [t for t in tickets if fold(t.id) == part]
        if not replayed:
            continue
        platform = SimulationServices(base.settings, base.plugins)
        platform.share(base, frozenset((source, t.id) for t in replayed))
        runtime = build_chat(platform)
        for ticket in replayed:
            platform.begin(exclude_origins=frozenset({f"{source}:{ticket.id}"}))
            question = opening(ticket)
            turn = await Conversation(runtime, platform, f"simulated-{ticket.id}").say(question)
            outcome = ("handed_over" if turn.handed_over
                       else "answered" if turn.cited_urls else "unanswered")
            reference = human_reply(ticket)
            rows.append({
                "ticket_id": ticket.id, "subject": ticket.subject, "question": question,
                "human_reply": reference, "answer": turn.reply, "outcome": outcome,
                "handoff": ({"reason": turn.handoff_reason, "rule": turn.handoff_rule}
                            if turn.handed_over else None),
                "confidence": turn.confidence, "cited": turn.cited_documents,
                "cited_urls": turn.cited_urls, "tools": turn.tools, "similarity": None,
                "triage": _triage(platform, ticket, question),
            })
            if outcome == "answered" and reference:
                answers.append((len(rows) - 1, turn.reply, reference))
            done += 1
            if progress:
                progress(done, len(tickets))
        # The conversations' model calls only (not the sync's: snippets phrased by the LLM).
        usage.requests += platform.usage.requests
        usage.input_tokens += platform.usage.input_tokens
        usage.output_tokens += platform.usage.output_tokens
    if answers:
        vectors = base.embedder.embed_documents([t for _, a, h in answers for t in (a, h)])
        for n, (row, _, _) in enumerate(answers):
            rows[row]["similarity"] = _cosine(vectors[2 * n], vectors[2 * n + 1])
    order = {t.id: n for n, t in enumerate(tickets)}  # the folds replayed them out of order
    rows.sort(key=lambda r: order[r["ticket_id"]])
    agent = base.settings.agent
    return {
        "schema": SCHEMA,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "provider": agent.provider,
            "model": None if agent.provider == "offline" else agent.model,
            "source": f"connector:{connector}" if connector else f"tickets:{tickets_path}",
            "articles": str(articles_path) if articles_path else None,
            "threshold": threshold, "wrong_below": wrong_below, "limit": limit,
            "since": since.isoformat() if since else None,
        },
        "summary": summarize(rows, threshold=threshold, wrong_below=wrong_below,
                             cost=cost_estimate(agent, usage, len(rows))),
        "rows": rows,
    }
