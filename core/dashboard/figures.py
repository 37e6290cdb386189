"""The dashboard's rates per day, from the conversations (core/conversations.py says what
each word means):

- deflection: conversations the AI saw through, never handed over, among all conversations;
- hand-over: conversations handed to a person, among all;
- low confidence: AI answers without a source, among all AI answers;
- positive feedback: thumbs up among thumbs up and down.

A day's rate is None when it has nothing to divide by (no conversation, no vote)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from deskpilot.core.conversations import Conversation, load_conversations


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(conversations: list[Conversation]) -> dict[str, Any]:
    handed = sum(c.handed_over for c in conversations)
    answers = [t for c in conversations for t in c.ai_turns]
    low = sum(t.low_confidence for t in answers)
    up = sum(c.feedback("positive") for c in conversations)
    down = sum(c.feedback("negative") for c in conversations)
    return {"conversations": len(conversations), "handed_over": handed,
            "answers": len(answers), "low_confidence": low,
            "thumbs_up": up, "thumbs_down": down,
            "deflection_rate": _rate(len(conversations) - handed, len(conversations)),
            "handover_rate": _rate(handed, len(conversations)),
            "low_confidence_rate": _rate(low, len(answers)),
            "positive_feedback_rate": _rate(up, up + down)}


def rates(engine: Engine, days: int, now: datetime | None = None) -> dict[str, Any]:
    """Totals and one row per day of the conversations started in the last `days` days
    (chat times are naive local times, as ChatKit keeps them)."""
    until = now or datetime.now()
    first = (until - timedelta(days=days - 1)).date()
    since = datetime.combine(first, datetime.min.time())
    conversations = load_conversations(engine, since=since, until=until)
    by_day: dict[str, list[Conversation]] = defaultdict(list)
    for conversation in conversations:
        by_day[conversation.created_at.date().isoformat()].append(conversation)
    day_rows = []
    for n in range(days):
        day = (first + timedelta(days=n)).isoformat()
        day_rows.append({"day": day, **_figures(by_day.get(day, []))})
    return {"since": since.isoformat(timespec="seconds"), "days": days,
            "total": _figures(conversations), "per_day": day_rows}
