"""Zendesk ticket comments in bulk, from the incremental ticket events export.

`GET /api/v2/incremental/ticket_events.json?start_time=&include=comment_events` lists every
ticket update since `start_time`, oldest first, up to 1,000 a page; with the `comment_events`
side-load each update's comments are among its `child_events`. The export is time-based: a
page's `end_time` is the next `start_time`, which is inclusive (the last second's events come
again), and `end_of_stream` says the stream has caught up with the present. It is for admins
only, and shares the incremental exports' 10 requests a minute.

Read from the start of the sync's window, the stream holds the whole history of every ticket
created since then: one request per 1,000 updates instead of one or more per ticket. Its
comments are kept until their ticket is listed, at most `max_buffered` of them. A ticket it
cannot vouch for gets its comments from its own pages, as without the export: one created before
the window, one changed after the stream's end, one listed twice in a run, and one whose
comments changed after they were written (made private, redacted), since the events keep a
comment as first written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
# Child events that are comments; any other `Comment…` event changes one after the fact.
_COMMENTS = frozenset({"Comment", "VoiceComment"})

Get = Callable[[str, Mapping[str, Any]], dict[str, Any]]


def epoch(value: str | None) -> int | None:
    if not value:
        return None
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


class CommentEvents:
    """One run's reader of the ticket events stream, from `start_time` (epoch seconds)."""

    def __init__(self, get: Get, start_time: int, *, max_buffered: int = 50_000) -> None:
        self._get = get
        self.max_buffered = max_buffered
        #: Every comment written since this second is in the buffer (or was handed out).
        self.window_start = start_time
        #: Where the stream goes on: the next request's start_time.
        self.position = start_time
        #: Where a run resumed after the tickets handed out so far starts the stream: just past
        #: what they needed, which may be short of `position` (one page read ahead at most).
        self.resume_at = start_time
        self._covered = start_time - 1  # every event up to this second has been read
        self._caught_up = False
        self._comments: dict[str, dict[Any, dict[str, Any]]] = {}  # ticket -> comment id -> raw
        self._buffered = 0
        self._own_pages: set[str] = set()  # tickets the stream cannot vouch for (docstring)

    def comments_for(self, tickets: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """The raw comments, oldest first, of those `tickets` (the ticket export's records)
        whose whole history the stream holds, by ticket id; the others are left out."""
        wanted = [t for t in tickets if self._may_hold(t)]
        if wanted:
            needed = max(epoch(t["updated_at"]) or 0 for t in wanted)
            self._read_until(needed)
            self.resume_at = min(self.position, needed + 1)
        found: dict[str, list[dict[str, Any]]] = {}
        for ticket in wanted:
            ticket_id = str(ticket["id"])
            if (epoch(ticket["updated_at"]) or 0) > self._covered or not self._may_hold(ticket):
                continue  # changed after the stream's end, or before the window moved on
            comments = self._comments.pop(ticket_id, {})
            self._buffered -= len(comments)
            self._own_pages.add(ticket_id)  # listed again in this run: its history was spent
            found[ticket_id] = sorted(comments.values(),
                                      key=lambda c: (c.get("created_at") or "", c["id"]))
        return found

    def _may_hold(self, ticket: dict[str, Any]) -> bool:
        created = epoch(ticket.get("created_at"))
        return (created is not None and created >= self.window_start
                and ticket.get("updated_at") is not None
                and str(ticket["id"]) not in self._own_pages)

    def _read_until(self, second: int) -> None:
        while not self._caught_up and self._covered < second:
            start = self.position
            data = self._get(EVENTS_PATH, {"start_time": start, "include": "comment_events"})
            for event in data.get("ticket_events") or []:
                self._add(event)
            end = int(data.get("end_time") or start)
            if data.get("end_of_stream"):
                self._caught_up = True
                self.position, self._covered = max(end, start), max(end, start, self._covered)
            elif end <= start:
                # More events in one second than a page holds: the export cannot page through
                # them. Step over that second; every ticket it touched reads its own pages.
                self._restart_window(start + 1)
            else:
                self.position, self._covered = end, end - 1
            if self._buffered > self.max_buffered:
                self._restart_window(self.position)  # memory first: older tickets read pages

    def _restart_window(self, second: int) -> None:
        self._comments.clear()
        self._buffered = 0
        self.window_start = self.position = second
        self._covered = max(self._covered, second - 1)

    def _add(self, event: dict[str, Any]) -> None:
        ticket_id = str(event.get("ticket_id"))
        children = event.get("child_events") or []
        comments = [c for c in children if c.get("event_type") in _COMMENTS and "body" in c]
        changed_later = any(str(c.get("event_type") or "").startswith("Comment")
                            and c.get("event_type") not in _COMMENTS for c in children)
        # Without the side-load a comment is only a `comment_present` flag: no text to index.
        unread = not comments and any(c.get("comment_present") for c in children)
        if changed_later or unread:
            self._buffered -= len(self._comments.pop(ticket_id, {}))
            self._own_pages.add(ticket_id)
            return
        if ticket_id in self._own_pages:
            return
        held = self._comments.setdefault(ticket_id, {})
        for comment in comments:
            if comment["id"] not in held:  # else a repeat: the inclusive start_time's second
                self._buffered += 1
            held[comment["id"]] = comment
