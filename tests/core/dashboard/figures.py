"""What the dashboard should show, worked out from the database with plain SQL: the tests
compare the pages with these, not with the code that drew them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _sources(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [a.get("source") or {} for part in item.get("content", [])
            for a in part.get("annotations") or []]


def expected(engine: Engine) -> dict[str, Any]:
    """Per thread: handed over?, its AI answers (sourced?), its customer questions; and the
    feedback votes."""
    with engine.connect() as conn:
        threads = [r[0] for r in conn.execute(text("SELECT id FROM chat_thread"))]
        rows = conn.execute(text("SELECT thread_id, id, type, data FROM chat_item ORDER BY seq"))
        items: dict[str, list[tuple[str, str, dict[str, Any]]]] = {t: [] for t in threads}
        for thread_id, item_id, kind, data in rows:
            items[thread_id].append((item_id, kind, _json(data)))
        votes = {(t, i): k for t, i, k in conn.execute(
            text("SELECT thread_id, item_id, kind FROM chat_feedback"))}
    result: dict[str, Any] = {"threads": {}, "up": 0, "down": 0}
    for thread_id, thread_items in items.items():
        handed, answers, questions = False, [], []
        for item_id, kind, data in thread_items:
            if handed:
                break
            if kind == "user_message":
                questions.append(" ".join(p["text"] for p in data["content"]).strip())
                continue
            if kind != "assistant_message":
                continue
            sources = _sources(data)
            markers = [s["data"]["deskpilot"] for s in sources
                       if s.get("type") == "entity" and "deskpilot" in (s.get("data") or {})]
            vote = votes.get((thread_id, item_id))
            result["up"] += vote == "positive"
            result["down"] += vote == "negative"
            if any(m.get("event") == "handoff" for m in markers):
                handed = True
            elif not markers:
                answers.append({"question": questions[-1], "vote": vote, "sourced": any(
                    s.get("type") == "url" and s["url"].startswith("https://")
                    for s in sources)})
        result["threads"][thread_id] = {"handed_over": handed, "answers": answers,
                                        "questions": questions}
    return result
