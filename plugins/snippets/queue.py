"""The review queue: solved tickets in, reviewed answer snippets out to the public index.

    ingest()   a synced page's solved tickets → redacted sources → a new pending snippet, or one
               more source of a snippet asking the same question (embedding similarity)
    approve() / reject()   a reviewer's decision (an approved text may be edited first)
    publish()  make the index agree with the queue: approved snippets public under the source
               "snippets", everything else out of it. The row's `published_hash` records what
               the index holds, so whichever process owns the index (the CLI, or the running
               server's worker when it holds the embedded index) can catch up later.
"""

from __future__ import annotations

import hashlib
import html
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

import deskpilot
from deskpilot import utcnow

from .distill import Draft, Source, extractive, phrase_with_model, source_of
from .settings import SnippetSettings
from .tables import Snippet, SnippetStatus

log = logging.getLogger(__name__)

#: The index source approved snippets are published under (never a connector's name).
SOURCE = "snippets"
_FLOAT32 = np.dtype("<f4")


class UnknownSnippet(deskpilot.ClientError):
    def __init__(self, snippet_id: int) -> None:
        super().__init__(404, f"no answer snippet {snippet_id}")


def _origins(snippet: Snippet) -> list[str]:
    """The tickets it was distilled from, as the index's `origins` name them."""
    return [f"{x['connector']}:{x['ticket_id']}" for x in snippet.sources]


def _digest(snippet: Snippet) -> str:
    # The sources too: a ticket joining an approved snippet changes what the index must hold.
    return hashlib.sha256("\x1f".join([snippet.question, snippet.answer, snippet.locale,
                                        *_origins(snippet)]).encode()).hexdigest()


def article_id(snippet_id: int) -> str:
    return f"snippet-{snippet_id}"


def to_json(snippet: Snippet, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": snippet.id, "status": snippet.status, "question": snippet.question,
        "answer": snippet.answer, "phrased_by": snippet.phrased_by,
        "tickets": [f"{s['connector']}:{s['ticket_id']}" for s in snippet.sources],
        "created_at": snippet.created_at.isoformat(),
        "reviewed_at": snippet.reviewed_at.isoformat() if snippet.reviewed_at else None,
        "reviewed_by": snippet.reviewed_by,
        "published": snippet.published_hash is not None,
    }
    if full:  # what a reviewer compares the snippet with: each ticket's own resolution
        data["sources"] = [{k: s[k] for k in ("connector", "ticket_id", "question", "answer")}
                           for s in snippet.sources]
    return data


@dataclass
class SnippetQueue:
    platform: deskpilot.Platform

    @property
    def settings(self) -> SnippetSettings:
        return self.platform.settings_for(SnippetSettings)

    # -- in -----------------------------------------------------------------------------------
    def _draft(self, sources: list[Source]) -> Draft:
        if self.platform.settings.agent.provider == "offline":
            return extractive(sources)
        return phrase_with_model(self.platform, sources, self.settings.snippet_phone_region)

    def ingest(self, connector: str, tickets: list[deskpilot.Ticket]) -> int:
        """Queue the solved tickets among `tickets`; returns how many snippets were made."""
        settings = self.settings
        sources = []
        for ticket in tickets:
            try:
                source = source_of(connector, ticket, settings.snippet_phone_region)
            except Exception as exc:  # one ticket's text must not keep its page out
                log.warning("snippets: ticket %s of %s not distilled: %s", ticket.id,
                            connector, exc)
                continue
            if source is not None:
                sources.append(source)
        if not sources:
            return 0
        embedder = self.platform.embedder
        made = 0
        with Session(self.platform.engine, expire_on_commit=False) as session:
            snippets = list(session.exec(select(Snippet)))
            # A ticket some snippet already holds is updated there: only new ones are embedded
            # (a full sync lists every ticket again).
            holders: dict[tuple[str, str], Snippet] = {}
            for snippet in snippets:
                for x in snippet.sources:
                    holders.setdefault((x["connector"], x["ticket_id"]), snippet)
            fresh = []
            for source in sources:
                if (target := holders.get((source.connector, source.ticket_id))) is None:
                    fresh.append(source)
                else:
                    self._join(target, source)
                    session.add(target)
            vectors = np.asarray(embedder.embed_documents([s.question for s in fresh])
                                 if fresh else [], dtype=np.float32)
            if fresh:
                vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            for source, vector in zip(fresh, vectors, strict=True):
                target = self._similar(snippets, vector, embedder.identity,
                                       settings.snippet_merge_similarity)
                if target is None:
                    target = self._new(source, vector, embedder.identity)
                    snippets.append(target)
                    made += 1
                else:
                    self._join(target, source)
                session.add(target)
            session.commit()
        return made

    @staticmethod
    def _similar(snippets: list[Snippet], vector: np.ndarray, embedder: str,
                 threshold: float) -> Snippet | None:
        best, best_score = None, threshold
        for snippet in snippets:
            if snippet.vector is None or snippet.embedder != embedder:
                continue
            stored = np.frombuffer(snippet.vector, _FLOAT32)
            if stored.shape != vector.shape:
                continue
            score = float(stored @ vector)
            if score >= best_score:
                best, best_score = snippet, score
        return best

    def _new(self, source: Source, vector: np.ndarray, embedder: str) -> Snippet:
        draft = self._draft([source])
        now = utcnow()
        auto = self.settings.snippet_auto_approve
        return Snippet(
            status=SnippetStatus.APPROVED if auto else SnippetStatus.PENDING,
            question=draft.question, answer=draft.answer, phrased_by=draft.phrased_by,
            sources=[source.as_json()], vector=vector.astype(_FLOAT32).tobytes(),
            embedder=embedder, created_at=now, updated_at=now,
            reviewed_at=now if auto else None, reviewed_by="auto-approve" if auto else None)

    def _join(self, snippet: Snippet, source: Source) -> None:
        # A new list: SQLAlchemy notices reassignment, not in-place changes of a JSON column.
        others = [x for x in snippet.sources
                  if (x["connector"], x["ticket_id"]) != (source.connector, source.ticket_id)]
        snippet.sources = [*others, source.as_json()]
        snippet.updated_at = utcnow()
        if snippet.status == SnippetStatus.PENDING:  # reviewed text is never changed under one
            draft = self._draft([Source(**x) for x in snippet.sources])
            snippet.question, snippet.answer = draft.question, draft.answer
            snippet.phrased_by = draft.phrased_by

    # -- review ---------------------------------------------------------------------------------
    def list(self, status: SnippetStatus | None = None) -> list[Snippet]:
        with Session(self.platform.engine) as session:
            query = select(Snippet).order_by(col(Snippet.id))
            if status is not None:
                query = query.where(Snippet.status == status)
            return list(session.exec(query))

    def counts(self) -> dict[str, int]:
        """How many snippets are in each review status (every status, 0 included)."""
        with Session(self.platform.engine) as session:
            found = dict(session.exec(select(Snippet.status, func.count())
                                      .group_by(Snippet.status)).all())
        return {str(status): int(found.get(status, 0)) for status in SnippetStatus}

    def get(self, snippet_id: int) -> Snippet:
        with Session(self.platform.engine) as session:
            snippet = session.get(Snippet, snippet_id)
        if snippet is None:
            raise UnknownSnippet(snippet_id)
        return snippet

    def _review(self, snippet_id: int, status: SnippetStatus, by: str | None,
                question: str | None = None, answer: str | None = None) -> Snippet:
        with Session(self.platform.engine, expire_on_commit=False) as session:
            snippet = session.get(Snippet, snippet_id)
            if snippet is None:
                raise UnknownSnippet(snippet_id)
            for name, text in (("question", question), ("answer", answer)):
                if text is not None and not text.strip():
                    raise deskpilot.ClientError(422, f"the {name} must not be empty")
            snippet.question = question.strip() if question else snippet.question
            snippet.answer = answer.strip() if answer else snippet.answer
            snippet.status, snippet.reviewed_by = status, by
            snippet.reviewed_at = snippet.updated_at = utcnow()
            session.add(snippet)
            session.commit()
        self.platform.audit(f"snippet.{status}", str(snippet_id), by=by)
        return snippet

    def approve(self, snippet_id: int, by: str | None = None, question: str | None = None,
                answer: str | None = None) -> Snippet:
        """Public from the next `publish()`; a reviewer may correct the text as they approve."""
        return self._review(snippet_id, SnippetStatus.APPROVED, by, question, answer)

    def reject(self, snippet_id: int, by: str | None = None) -> Snippet:
        return self._review(snippet_id, SnippetStatus.REJECTED, by)

    def similar(self, vector: list[float], embedder: str, limit: int) -> list[dict[str, Any]]:
        """Pending and approved snippets by their question's similarity to `vector` (a unit
        vector from `embedder`), best first (hook `similar_answers`)."""
        wanted = np.asarray(vector, dtype=np.float32)
        scored = []
        for snippet in self.list():
            if (snippet.status == SnippetStatus.REJECTED or snippet.vector is None
                    or snippet.embedder != embedder):
                continue
            stored = np.frombuffer(snippet.vector, _FLOAT32)
            if stored.shape == wanted.shape:
                scored.append((float(stored @ wanted), snippet))
        scored.sort(key=lambda pair: -pair[0])
        return [{"question": s.question, "answer": s.answer, "similarity": score,
                 "status": s.status, "snippet_id": s.id,
                 "tickets": [f"{x['connector']}:{x['ticket_id']}" for x in s.sources]}
                for score, s in scored[:limit]]

    # -- out ------------------------------------------------------------------------------------
    def publish(self) -> int:
        """Bring the index in line with the queue; returns how many snippets changed there.
        Raises ClientError (503) when another process owns the embedded index."""
        with Session(self.platform.engine, expire_on_commit=False) as session:
            stale = [s for s in session.exec(select(Snippet)) if (
                _digest(s) != s.published_hash if s.status == SnippetStatus.APPROVED
                else s.published_hash is not None)]
            if not stale:
                return 0
            approved = [s for s in stale if s.status == SnippetStatus.APPROVED]
            articles = [deskpilot.Article(
                id=article_id(s.id or 0), title=s.question, locale=s.locale,
                body_html=f"<p>{html.escape(s.answer)}</p>", audience=deskpilot.Audience.PUBLIC,
                # So that a simulation replaying one of these tickets leaves its snippet out.
                derived_from=_origins(s),
            ) for s in approved]
            withdrawn = [article_id(s.id or 0) for s in stale if s not in approved]
            self.platform.publish_articles(SOURCE, articles, withdrawn)
            for snippet in stale:
                snippet.published_hash = (_digest(snippet)
                                          if snippet.status == SnippetStatus.APPROVED else None)
                session.add(snippet)
            session.commit()
        log.info("snippets: %d published, %d withdrawn", len(articles), len(withdrawn))
        return len(stale)
