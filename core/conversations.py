"""Customer conversations as operators read them: each customer message and the reply it got.

What the dashboard's rates and the knowledge-gap report count, read from the chat tables only:

- a **turn** is a customer message and the assistant message(s) after it, until the next one;
- an AI reply is **sourced** when it carries an http(s) url citation; an AI reply without one
  is a **low-confidence** answer (the offline model's hand-over offer, or an LLM answering
  from nothing: what the escalation rules call "an answer without a source") — unless the
  message was only small talk ("hi", "thanks": `deskpilot.language.small_talk`);
- a reply with a marker (the entity annotation `data.deskpilot`, `deskpilot.Reply`) is not
  the AI's: a plugin's on the way to a hand-over (`event == "handoff_pending"`, e.g. asking
  for an email address) or a person's;
- a conversation is **handed over** once a reply carries the handoff marker
  (`event == "handoff"`); the replies after it are a person's (relayed), not the AI's, and
  count for nothing here;
- a turn **asked for a person** when a plugin's reply to it says so (`asked_for_person`: the
  escalation plugin's reading of "I'd like to talk to a person"): no question of its own;
- **feedback** is the latest thumbs up/down per reply (`chat_feedback`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.engine import Engine

from deskpilot._chat import Reply as MarkedReply
from deskpilot._documents import http_url
from deskpilot.core.agent.small_talk import small_talk
from deskpilot.core.chat.tables import ChatFeedback, ChatItem, ChatThread

THREAD = ChatThread.__table__  # type: ignore[attr-defined]
ITEM = ChatItem.__table__  # type: ignore[attr-defined]
FEEDBACK = ChatFeedback.__table__  # type: ignore[attr-defined]



@dataclass
class Reply:
    item_id: str
    text: str
    sources: list[dict[str, Any]]  # its http(s) url citations (ChatKit url sources)
    marker: dict[str, Any] | None  # `data.deskpilot` of a person's or a plugin's message
    feedback: str | None = None  # positive | negative

    @property
    def sourced(self) -> bool:
        return bool(self.sources)

    @property
    def handoff(self) -> bool:
        return (self.marker or {}).get("event") == MarkedReply.HANDOFF

    @property
    def by_plugin(self) -> bool:
        """The handoff, or a plugin's message on the way to it."""
        return (self.marker or {}).get("event") in (MarkedReply.HANDOFF,
                                                    MarkedReply.HANDOFF_PENDING)

    @property
    def by_ai(self) -> bool:
        return self.marker is None


@dataclass
class Turn:
    item_id: str
    question: str
    at: datetime
    replies: list[Reply] = field(default_factory=list)

    @property
    def ai_replies(self) -> list[Reply]:
        return [r for r in self.replies if r.by_ai]

    @property
    def low_confidence(self) -> bool:
        """The AI answered a question, and nothing it said cites a source (small talk —
        "hi", "thanks" — asks nothing a source could answer)."""
        ai = self.ai_replies
        return bool(ai) and not any(r.sourced for r in ai) and small_talk(self.question) is None

    @property
    def thumbs_down(self) -> bool:
        return any(r.feedback == "negative" for r in self.replies)

    @property
    def asked_for_person(self) -> bool:
        """The message only asked for a person (a plugin's reply says so)."""
        return any((r.marker or {}).get("asked_for_person") is True for r in self.replies)


@dataclass
class Conversation:
    id: str
    user_id: str
    title: str | None
    created_at: datetime
    turns: list[Turn] = field(default_factory=list)  # up to the handoff, if any
    handed_over: bool = False

    def feedback(self, kind: str) -> int:
        return sum(r.feedback == kind for t in self.turns for r in t.replies)

    @property
    def ai_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.ai_replies]


def _text(data: dict[str, Any]) -> str:
    return " ".join(" ".join(str(part.get("text") or "") for part in data.get("content") or []
                             if isinstance(part, dict)).split())


def _reply(item_id: str, data: dict[str, Any]) -> Reply:
    sources: list[dict[str, Any]] = []
    marker = None
    for part in data.get("content") or []:
        for annotation in part.get("annotations") or []:
            source = annotation.get("source") or {}
            if source.get("type") == "url" and http_url(str(source.get("url") or "")):
                sources.append(source)
            elif (found := MarkedReply.marker_in(annotation)) is not None:
                marker = found
    return Reply(item_id, _text(data), sources, marker)


def load_conversations(
    engine: Engine, *, since: datetime | None = None, until: datetime | None = None,
    search: str | None = None, thread_id: str | None = None, limit: int | None = None,
) -> list[Conversation]:
    """Conversations started in [since, until), newest first; `search` matches the title or
    any message (case-insensitive substring)."""
    query = select(THREAD.c.id, THREAD.c.user_id, THREAD.c.title, THREAD.c.created_at)
    if since is not None:
        query = query.where(THREAD.c.created_at >= since)
    if until is not None:
        query = query.where(THREAD.c.created_at < until)
    if thread_id is not None:
        query = query.where(THREAD.c.id == thread_id)
    if search:
        pattern = f"%{search.lower()}%"
        # Messages are JSON: their text is matched in the stored document, as written.
        in_items = select(ITEM.c.thread_id).where(
            func.lower(cast(ITEM.c.data, String)).like(pattern))
        query = query.where(or_(func.lower(THREAD.c.title).like(pattern),
                                THREAD.c.id.in_(in_items)))
    query = query.order_by(THREAD.c.created_at.desc(), THREAD.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        threads = conn.execute(query).all()
        ids = [t.id for t in threads]
        items: dict[str, list[Any]] = defaultdict(list)
        votes: dict[tuple[str, str], str] = {}
        for start in range(0, len(ids), 500):  # bounded IN lists
            chunk = ids[start:start + 500]
            for row in conn.execute(
                    select(ITEM.c.thread_id, ITEM.c.id, ITEM.c.type, ITEM.c.created_at,
                           ITEM.c.data)
                    .where(ITEM.c.thread_id.in_(chunk)).order_by(ITEM.c.seq)):
                items[row.thread_id].append(row)
            for row in conn.execute(
                    select(FEEDBACK.c.thread_id, FEEDBACK.c.item_id, FEEDBACK.c.kind)
                    .where(FEEDBACK.c.thread_id.in_(chunk)).order_by(FEEDBACK.c.created_at)):
                votes[(row.thread_id, row.item_id)] = row.kind  # the latest vote wins
    return [_conversation(t, items[t.id], votes) for t in threads]


def _conversation(thread: Any, items: list[Any], votes: dict[tuple[str, str], str]
                  ) -> Conversation:
    conversation = Conversation(thread.id, thread.user_id, thread.title, thread.created_at)
    for item in items:
        if item.type == "user_message":
            conversation.turns.append(Turn(item.id, _text(item.data), item.created_at))
        elif item.type == "assistant_message" and conversation.turns:
            reply = _reply(item.id, item.data)
            reply.feedback = votes.get((thread.id, item.id))
            conversation.turns[-1].replies.append(reply)
            if reply.handoff:
                conversation.handed_over = True
                break  # a person owns it from here
    return conversation


def transcript(engine: Engine, thread_id: str) -> list[dict[str, Any]]:
    """Every message of a thread, oldest first: who (customer, assistant, person), text,
    sources, feedback. Empty when there is no such thread."""
    with engine.connect() as conn:
        rows = conn.execute(select(ITEM.c.id, ITEM.c.type, ITEM.c.created_at, ITEM.c.data)
                            .where(ITEM.c.thread_id == thread_id).order_by(ITEM.c.seq)).all()
        votes = {r.item_id: r.kind for r in conn.execute(
            select(FEEDBACK.c.item_id, FEEDBACK.c.kind).where(FEEDBACK.c.thread_id == thread_id)
            .order_by(FEEDBACK.c.created_at))}
    messages = []
    for row in rows:
        if row.type == "user_message":
            messages.append({"id": row.id, "role": "customer", "at": row.created_at,
                             "author": None, "text": _text(row.data), "sources": [],
                             "feedback": None})
        elif row.type == "assistant_message":
            reply = _reply(row.id, row.data)
            role = "assistant" if reply.by_ai else "handoff" if reply.by_plugin else "person"
            messages.append({"id": row.id, "role": role, "at": row.created_at,
                             "author": (reply.marker or {}).get("author"), "text": reply.text,
                             "sources": reply.sources, "feedback": votes.get(row.id)})
    return messages


def titles(engine: Engine, thread_ids: list[str]) -> dict[str, str | None]:
    """The titles of these threads (those that exist)."""
    if not thread_ids:
        return {}
    with engine.connect() as conn:
        return dict(conn.execute(select(THREAD.c.id, THREAD.c.title)
                                 .where(THREAD.c.id.in_(thread_ids))).all())
