"""Messages added to a customer's thread from outside a chat turn (`platform.post_to_thread`):
a person's reply relayed from the helpdesk, or the note that they closed the conversation.

The message is a ChatKit `assistant_message`, so every ChatKit client shows it. Who wrote it
travels inside it, as an entity annotation: `source.data.deskpilot = {"author": "Dana",
"event": "closed"}`, which Deskpilot's widget shows as the person's name (a client that does not
know it shows an entity source titled with the name).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chatkit.types import Annotation, AssistantMessageContent, AssistantMessageItem, EntitySource
from sqlalchemy import select
from sqlalchemy.engine import Engine

from deskpilot._chat import Reply
from deskpilot.core.chat.tables import ChatItem, ChatThread
from deskpilot.knowledge.store import dialect_insert

THREAD = ChatThread.__table__  # type: ignore[attr-defined]
ITEM = ChatItem.__table__  # type: ignore[attr-defined]


def marked_message(thread_id: str, item_id: str, text: str, marker: dict[str, Any]
                   ) -> AssistantMessageItem:
    """An assistant message carrying `marker` (`Reply.marker`: who wrote it, what event) as
    its entity annotation; none when the marker is empty."""
    annotations = []
    if marker:
        annotations.append(Annotation(source=EntitySource(
            id=f"deskpilot:{marker.get('event') or 'person'}",
            title=marker.get("author") or "Support team",
            label="Support team", data={"deskpilot": marker})))  # type: ignore[arg-type]
    return AssistantMessageItem(
        id=item_id, thread_id=thread_id,
        # ChatKit's timestamps are naive (the server's own are naive local times too).
        created_at=datetime.now(),
        content=[AssistantMessageContent(text=text, annotations=annotations)],
    )


def post_to_thread(engine: Engine, thread_id: str, item_id: str, text: str, *,
                   author: str | None = None, event: str | None = None) -> bool:
    """Insert the message unless an item with its id is there already (then nothing changes:
    a retried relay keeps the first copy and its place). False if the thread does not exist."""
    item = marked_message(thread_id, item_id, text, Reply(text, event, author).marker)
    with engine.begin() as conn:
        owner = conn.execute(select(THREAD.c.user_id).where(THREAD.c.id == thread_id)).scalar()
        if owner is None:
            return False
        conn.execute(dialect_insert(engine)(ITEM).values(
            id=item.id, thread_id=thread_id, user_id=owner, created_at=item.created_at,
            type=item.type, data=item.model_dump(mode="json"),
        ).on_conflict_do_nothing(index_elements=["thread_id", "id"]))
    return True
