"""Knowledge gaps: what customers asked that the knowledge did not answer well, by topic
(`deskpilot gaps`, the dashboard's Gaps page).

A question is a gap when (core/conversations.py says how each is read from the chat tables):
- the AI's answer cited no source (**low confidence**),
- the customer thumbed the answer down (**thumbs down**), or
- the conversation was **handed over**: then the question is the customer's first message,
  what they came with — unless it only asked for a person ("I'd like to talk to a person":
  no question the knowledge missed).

The newest simulation report (`deskpilot simulate`, `<data_dir>/simulations`) adds its
tickets' questions when its run lies in the window: handed over, unanswered (the agent offered
a person: **low confidence**), or answered but **estimated wrong** (unlike the team's reply).
Older reports replay the same tickets, so only the newest counts.

Topics: the questions are embedded with the configured embedder and clustered bottom-up
(scikit-learn's agglomerative clustering, average linkage on cosine distance): two groups
merge while the mean similarity between their questions is at least MIN_SIMILARITY (0.6). A topic
is named by its most central question, and comes with its count, its trend (the later half of
the window against the earlier half, and per day), example questions, and a suggested article
outline drafted from the answers plugins know to similar questions (`similar_answers`: the
snippets plugin's solved tickets), or none when nobody has answered such a question yet.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from deskpilot.core.conversations import load_conversations

if TYPE_CHECKING:
    from deskpilot.core.services import Services

#: Questions in one topic are at least this similar on average (cosine). Best agreement with
#: the true topics of stackfaq and banking77 questions among 0.4-0.7 (bench/gaps.py, README).
MIN_SIMILARITY = 0.6
#: Answers below this similarity to a topic's centre are not offered for its outline.
MIN_ANSWER_SIMILARITY = 0.5
EXAMPLES = 5
OUTLINE_SECTIONS = 4
REASONS = ("low_confidence", "thumbs_down", "handed_over", "estimated_wrong")


@dataclass
class GapQuestion:
    text: str
    at: datetime
    reasons: list[str]
    thread_id: str | None = None  # None for a simulated question
    origin: str = "chat"  # chat | simulation


@dataclass
class Topic:
    title: str
    questions: list[GapQuestion]
    centre: np.ndarray
    outline: dict[str, Any] = field(default_factory=dict)


def chat_gap_questions(services: Services, since: datetime, until: datetime
                       ) -> list[GapQuestion]:
    """The gap questions of the conversations started in [since, until)."""
    found: list[GapQuestion] = []
    for conversation in load_conversations(services.engine, since=since, until=until):
        questions: dict[str, GapQuestion] = {}
        for turn in conversation.turns:
            reasons = [r for r, holds in (("low_confidence", turn.low_confidence),
                                          ("thumbs_down", turn.thumbs_down)) if holds]
            if reasons and turn.question:
                questions[turn.item_id] = GapQuestion(turn.question, turn.at, reasons,
                                                      conversation.id)
        first = conversation.turns[0] if conversation.turns else None
        if (conversation.handed_over and first is not None and first.question
                and not first.asked_for_person):
            question = questions.setdefault(first.item_id, GapQuestion(
                first.question, first.at, [], conversation.id))
            question.reasons.append("handed_over")
        found += questions.values()
    return found


def simulation_gap_questions(services: Services) -> list[GapQuestion]:
    """The gap questions of the newest simulation report, at the time it was made."""
    from deskpilot.core.simulation.commands import simulations_dir
    from deskpilot.core.simulation.report import saved_reports

    reports = saved_reports(simulations_dir(services.settings.data_dir))
    if not reports:
        return []
    report = reports[0][1]
    # Chat times are naive local times: the report's (UTC) time is read the same way.
    at = datetime.fromisoformat(report["created_at"]).astimezone().replace(tzinfo=None)
    wrong_below = float(report["settings"]["wrong_below"])
    found = []
    for row in report["rows"]:
        similarity = row.get("similarity")
        reason = {"handed_over": "handed_over", "unanswered": "low_confidence"}.get(
            row["outcome"], "estimated_wrong" if similarity is not None
            and similarity < wrong_below else None)
        if reason and str(row.get("question") or "").strip():
            found.append(GapQuestion(row["question"], at, [reason], origin="simulation"))
    return found


def _unit(vectors: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


class QuestionVectors:
    """The gap questions' unit vectors, kept by the running platform (`services.shared`): the
    Gaps page embeds only the questions it has not seen before, not a month's worth each time
    (600 questions: seconds of CPU, bench/gaps.py). The oldest are dropped past LIMIT."""

    LIMIT = 50_000

    def __init__(self, services: Services) -> None:
        self.embedder = services.embedder
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def matrix(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        fresh = _unit(self.embedder.embed_documents(new)) if new else []
        with self._lock:
            self._vectors.update(zip(new, fresh, strict=True))
            rows = [self._vectors[t] for t in texts]
            while len(self._vectors) > self.LIMIT:
                self._vectors.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


def cluster(vectors: np.ndarray, min_similarity: float = MIN_SIMILARITY) -> list[int]:
    """A topic label per (unit) vector."""
    if len(vectors) < 2:
        return [0] * len(vectors)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=1 - min_similarity)
    return [int(label) for label in model.fit_predict(vectors)]


def _trend(questions: list[GapQuestion], since: datetime, until: datetime) -> dict[str, Any]:
    middle = since + (until - since) / 2
    earlier = sum(q.at < middle for q in questions)
    later = len(questions) - earlier
    per_day = Counter(q.at.date() for q in questions)
    days = [since.date() + timedelta(days=n) for n in range((until.date() - since.date()).days
                                                            + 1)]
    return {"earlier": earlier, "later": later,
            "direction": "rising" if later > earlier else "falling" if later < earlier
            else "steady",
            "per_day": [{"day": d.isoformat(), "count": per_day.get(d, 0)} for d in days]}


def _sentences(text: str, limit: int = 2) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if p.strip()]
    return parts[:limit]


def draft_outline(services: Services, topic: Topic) -> dict[str, Any]:
    """A suggested help article: the topic as title, a section per known answer to a similar
    question (its question as heading, its first sentences as points, the tickets it came
    from), and the customers' questions it should cover."""
    answers: list[dict[str, Any]] = []
    for _plugin, found in services.plugins.each(
            "similar_answers", platform=services, vector=topic.centre.tolist(),
            embedder=services.embedder.identity, limit=OUTLINE_SECTIONS):
        answers += [a for a in found or []
                    if float(a.get("similarity", 0)) >= MIN_ANSWER_SIMILARITY]
    answers.sort(key=lambda a: -float(a["similarity"]))
    sections = [{"heading": str(a["question"]), "points": _sentences(str(a["answer"])),
                 "tickets": list(a.get("tickets") or []), "status": a.get("status"),
                 "similarity": round(float(a["similarity"]), 3)}
                for a in answers[:OUTLINE_SECTIONS]]
    covers = list(dict.fromkeys(q.text for q in topic.questions))[:EXAMPLES]
    return {"title": topic.title, "sections": sections, "questions_to_cover": covers}


def gap_report(services: Services, *, days: int = 30, now: datetime | None = None
               ) -> dict[str, Any]:
    """The gap topics of the last `days` days, largest first."""
    if days < 1:
        raise ValueError("days must be at least 1")
    # Chat timestamps are naive local times (ChatKit's): the window is read the same way.
    until = now or datetime.now()
    since = until - timedelta(days=days)
    questions = chat_gap_questions(services, since, until) + [
        q for q in simulation_gap_questions(services) if since <= q.at < until]
    topics: list[Topic] = []
    if questions:
        vectors = services.shared(QuestionVectors).matrix([q.text for q in questions])
        labels = cluster(vectors)
        for label in sorted(set(labels)):
            members = [i for i, lab in enumerate(labels) if lab == label]
            centre = vectors[members].mean(axis=0)
            centre /= max(float(np.linalg.norm(centre)), 1e-12)
            # Most central first: the title, then the examples.
            ranked = sorted(members, key=lambda i: -float(vectors[i] @ centre))
            topics.append(Topic(questions[ranked[0]].text, [questions[i] for i in ranked],
                                centre))
    topics.sort(key=lambda t: (-len(t.questions), t.title))
    report_topics = []
    for topic in topics:
        reasons = Counter(r for q in topic.questions for r in q.reasons)
        report_topics.append({
            "title": topic.title,
            "count": len(topic.questions),
            "reasons": {r: reasons.get(r, 0) for r in REASONS},
            "origins": dict(Counter(q.origin for q in topic.questions)),
            "trend": _trend(topic.questions, since, until),
            "examples": [{"question": q.text, "at": q.at.isoformat(timespec="seconds"),
                          "reasons": q.reasons, "thread_id": q.thread_id, "origin": q.origin}
                         for q in topic.questions[:EXAMPLES]],
            "outline": draft_outline(services, topic),
        })
    return {"since": since.isoformat(timespec="seconds"),
            "until": until.isoformat(timespec="seconds"), "days": days,
            "questions": len(questions), "topics": report_topics,
            "clustering": {"method": "agglomerative, average linkage, cosine",
                           "min_similarity": MIN_SIMILARITY,
                           "embedder": services.embedder.identity if questions else None}}
