"""Helpdesks in memory for the relay tests, speaking Zendesk's and Intercom's real API and
webhook formats: as an `httpx.MockTransport`, or as a real HTTP server on loopback (for a
`deskpilot serve` in another process).

Zendesk: tickets (`POST /api/v2/tickets.json` with Idempotency-Key, `GET`/`PUT
/api/v2/tickets/{id}.json`), comments (`GET /api/v2/tickets/{id}/comments` with cursor
pagination and `include=users`), and event webhooks (`zen:event-type:ticket.comment_added`,
`…status_changed`) signed with `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(timestamp +
body)). A requester's comment on a solved ticket reopens it, as in Zendesk.

Intercom: contacts, conversations (`POST /conversations`, `GET /conversations/{id}`, `POST
…/reply`, `POST …/parts`), and notification webhooks (`conversation.admin.replied`, `…noted`,
`…closed`) signed with `X-Hub-Signature` = sha1 HMAC of the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

Reply = tuple[int, dict[str, Any]]


def _iso(epoch: float | None = None) -> str:
    return datetime.fromtimestamp(epoch or time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zendesk_signed(body: bytes, secret: str, at: datetime | None = None) -> dict[str, str]:
    """Zendesk's webhook signature headers for `body`: base64(HMAC-SHA256(timestamp + body))."""
    timestamp = _iso(at.timestamp() if at else None)
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {"X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp}


class _Desk:
    """What both fakes share: a lock, a request log, and the two ways to be reached."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []
        self.ids = itertools.count(1000)
        self.down = False  # answer every API call with 503

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> Reply:
        raise NotImplementedError

    def _call(self, method: str, path: str, query: dict[str, str], body: Any,
              headers: dict[str, str]) -> Reply:
        with self.lock:
            self.calls.append((method, path))
            if self.down:
                return 503, {"error": "unavailable"}
            return self.handle(method, path, query, body, headers)

    def transport(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content) if request.content else None
            query = {k: v for k, v in request.url.params.items()}
            status, data = self._call(request.method, request.url.path, query, body,
                                      {k.lower(): v for k, v in request.headers.items()})
            return httpx.Response(status, json=data)

        return httpx.MockTransport(answer)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """A real HTTP server on 127.0.0.1; yields its base URL."""
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                status, data = desk._call(self.command, url.path, query,
                                          json.loads(raw) if raw else None,
                                          {k.lower(): v for k, v in self.headers.items()})
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


class ZendeskDesk(_Desk):
    AGENT = {"id": 900, "name": "Dana", "role": "agent", "email": "dana@acme.example"}

    def __init__(self, secret: str = "zd-secret", per_page_max: int = 2) -> None:
        super().__init__()
        self.secret = secret
        self.per_page_max = per_page_max  # small, so pagination is exercised
        self.users: dict[int, dict[str, Any]] = {900: dict(self.AGENT)}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.created_by_key: dict[str, int] = {}

    def _requester(self, spec: dict[str, Any]) -> int:
        for user in self.users.values():
            if spec.get("email") and user.get("email") == spec["email"]:
                return user["id"]
        user_id = next(self.ids)
        self.users[user_id] = {"id": user_id, "name": spec.get("name") or spec.get("email"),
                               "email": spec.get("email"), "role": "end-user"}
        return user_id

    def _comment(self, ticket_id: int, author: int, body: str, public: bool) -> dict[str, Any]:
        comment = {"id": next(self.ids), "type": "Comment", "author_id": author, "body": body,
                   "html_body": f"<p>{body}</p>", "plain_body": body, "public": public,
                   "created_at": _iso()}
        self.comments[ticket_id].append(comment)
        ticket = self.tickets[ticket_id]
        ticket["updated_at"] = _iso()
        if self.users[author]["role"] == "end-user" and ticket["status"] == "solved":
            ticket["status"] = "open"  # Zendesk reopens a solved ticket the requester answers
        return comment

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> Reply:
        if method == "POST" and path == "/api/v2/tickets.json":
            key = headers.get("idempotency-key")
            if key in self.created_by_key:
                return 201, {"ticket": self.tickets[self.created_by_key[key]]}
            spec = body["ticket"]
            ticket_id = next(self.ids)
            requester = self._requester(spec.get("requester") or {"name": "API user"})
            self.tickets[ticket_id] = {
                "id": ticket_id, "subject": spec["subject"], "status": "new",
                "requester_id": requester, "tags": spec.get("tags", []),
                "priority": spec.get("priority"), "created_at": _iso(), "updated_at": _iso(),
                "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json"}
            self.comments[ticket_id] = []
            self._comment(ticket_id, requester, spec["comment"]["body"],
                          spec["comment"].get("public", True))
            if key:
                self.created_by_key[key] = ticket_id
            return 201, {"ticket": self.tickets[ticket_id]}
        if match := re.fullmatch(r"/api/v2/tickets/(\d+)\.json", path):
            ticket_id = int(match.group(1))
            if ticket_id not in self.tickets:
                return 404, {"error": "RecordNotFound"}
            if method == "GET":
                return 200, {"ticket": self.tickets[ticket_id]}
            spec = body["ticket"]
            events = []
            if comment := spec.get("comment"):
                made = self._comment(ticket_id, comment.get("author_id", 900), comment["body"],
                                     comment.get("public", True))
                events.append({**made, "type": "Comment"})
            if status := spec.get("status"):
                self.tickets[ticket_id]["status"] = status
            return 200, {"ticket": self.tickets[ticket_id],
                         "audit": {"id": next(self.ids), "events": events}}
        if match := re.fullmatch(r"/api/v2/tickets/(\d+)/comments(\.json)?", path):
            ticket_id = int(match.group(1))
            size = min(int(query.get("page[size]", 100)), self.per_page_max)
            start = int(query.get("page[after]", 0))
            page = self.comments[ticket_id][start:start + size]
            more = start + size < len(self.comments[ticket_id])
            data: dict[str, Any] = {"comments": page, "meta": {
                "has_more": more, "after_cursor": str(start + size) if more else None}}
            if "users" in query.get("include", ""):
                data["users"] = [self.users[c["author_id"]] for c in page]
            return 200, data
        return 404, {"error": "InvalidEndpoint", "path": path}

    # -- what a person does in Zendesk, and the webhook it sends ------------------------------
    def _event(self, ticket_id: int, kind: str, event: dict[str, Any]) -> dict[str, Any]:
        ticket = self.tickets[ticket_id]
        return {
            "account_id": 22129848, "id": str(uuid.uuid4()), "time": _iso(),
            "type": f"zen:event-type:ticket.{kind}", "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{ticket_id}",
            "detail": {"id": str(ticket_id), "subject": ticket["subject"],
                       "status": ticket["status"].upper(),
                       "requester_id": str(ticket["requester_id"]),
                       "created_at": ticket["created_at"], "updated_at": ticket["updated_at"],
                       "tags": ticket["tags"], "priority": (ticket["priority"] or "").upper(),
                       "via": {"channel": "web_service"}},
            "event": event,
        }

    def agent_reply(self, ticket_id: int, body: str, *, public: bool = True,
                    status: str | None = None) -> dict[str, Any]:
        with self.lock:
            made = self._comment(ticket_id, 900, body, public)
            if status:
                self.tickets[ticket_id]["status"] = status
            return self._event(ticket_id, "comment_added", {"comment": {
                "id": str(made["id"]), "body": body, "is_public": public,
                "author": {"id": "900", "is_staff": True, "name": "Dana"}}})

    def set_status(self, ticket_id: int, status: str) -> dict[str, Any]:
        with self.lock:
            previous = self.tickets[ticket_id]["status"]
            self.tickets[ticket_id]["status"] = status
            return self._event(ticket_id, "status_changed",
                               {"current": status.upper(), "previous": previous.upper()})

    def webhook(self, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The delivery as Zendesk sends it: body and signed headers."""
        body = json.dumps(payload).encode()
        return body, {
            "Content-Type": "application/json", **zendesk_signed(body, self.secret),
            "X-Zendesk-Webhook-Id": "01GFXGVWPD3A4YP6RPP8CZAE2Y",
            "X-Zendesk-Webhook-Invocation-Id": str(uuid.uuid4()),
        }

    def public_comments(self, ticket_id: int, role: str) -> list[str]:
        return [c["body"] for c in self.comments[ticket_id]
                if c["public"] and self.users[c["author_id"]]["role"] == role]


class IntercomDesk(_Desk):
    ADMIN = {"type": "admin", "id": "7", "name": "Sam", "email": "sam@acme.example"}

    def __init__(self, secret: str = "ic-secret") -> None:
        super().__init__()
        self.secret = secret
        self.contacts: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}

    def _part(self, conversation: dict[str, Any], part_type: str, author: dict[str, Any],
              body: str | None) -> dict[str, Any]:
        now = int(time.time())
        part = {"type": "conversation_part", "id": str(next(self.ids)), "part_type": part_type,
                "body": f"<p>{body}</p>" if body else None, "created_at": now,
                "updated_at": now, "author": author, "attachments": [], "redacted": False}
        conversation["conversation_parts"]["conversation_parts"].append(part)
        conversation["conversation_parts"]["total_count"] += 1
        conversation["updated_at"] = now
        return part

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> Reply:
        if (method, path) == ("POST", "/contacts/search"):
            email = body["query"]["value"]
            found = [c for c in self.contacts.values() if c.get("email") == email]
            return 200, {"type": "list", "data": found, "total_count": len(found)}
        if (method, path) == ("POST", "/contacts"):
            contact = {"type": "contact", "id": uuid.uuid4().hex[:24], **body}
            self.contacts[contact["id"]] = contact
            return 200, contact
        if (method, path) == ("POST", "/conversations"):
            conversation_id = str(next(self.ids))
            contact = self.contacts[body["from"]["id"]]
            now = int(time.time())
            self.conversations[conversation_id] = {
                "type": "conversation", "id": conversation_id, "title": None, "state": "open",
                "open": True, "created_at": now, "updated_at": now, "priority": "not_priority",
                "source": {"type": "conversation", "delivered_as": "customer_initiated",
                           "subject": "", "body": f"<p>{body['body']}</p>",
                           "author": {"type": "user", "id": contact["id"],
                                      "name": contact.get("name")}},
                "contacts": {"type": "contact.list", "contacts": [
                    {"type": "contact", "id": contact["id"]}]},
                "conversation_parts": {"type": "conversation_part.list",
                                       "conversation_parts": [], "total_count": 0},
                "tags": {"type": "tag.list", "tags": []}}
            return 200, {"type": "user_message", "id": str(next(self.ids)),
                         "conversation_id": conversation_id}
        if match := re.fullmatch(r"/conversations/(\d+)(/reply|/parts)?", path):
            conversation = self.conversations.get(match.group(1))
            if conversation is None:
                return 404, {"type": "error.list", "errors": [{"code": "not_found"}]}
            if match.group(2) == "/parts":
                self._part(conversation, "assignment", dict(self.ADMIN), None)
            elif match.group(2) == "/reply":
                if body["type"] == "user":
                    contact = self.contacts[body["intercom_user_id"]]
                    self._part(conversation, "comment", {"type": "user", "id": contact["id"],
                                                         "name": contact.get("name")},
                               body["body"])
                    conversation["state"], conversation["open"] = "open", True
                else:
                    self._part(conversation, body["message_type"], dict(self.ADMIN),
                               body["body"])
            return 200, conversation
        return 404, {"type": "error.list", "errors": [{"code": "not_found", "path": path}]}

    def admin_reply(self, conversation_id: str, body: str, *, note: bool = False,
                    close: bool = False, reopen: bool = False) -> dict[str, Any]:
        with self.lock:
            conversation = self.conversations[conversation_id]
            kind = "note" if note else "close" if close else "comment"
            self._part(conversation, kind, dict(self.ADMIN), body)
            if close:
                conversation["state"], conversation["open"] = "closed", False
            if reopen:
                conversation["state"], conversation["open"] = "open", True
            topic = {"note": "conversation.admin.noted", "close": "conversation.admin.closed",
                     "comment": "conversation.admin.replied"}[kind]
            return {"type": "notification_event", "app_id": "abc123", "id": f"notif_{uuid.uuid4()}",
                    "topic": topic, "delivery_status": "pending", "delivery_attempts": 1,
                    "created_at": int(time.time()),
                    "data": {"type": "notification_event_data",
                             "item": json.loads(json.dumps(conversation))}}

    def webhook(self, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload).encode()
        signature = "sha1=" + hmac.new(self.secret.encode(), body, hashlib.sha1).hexdigest()
        return body, {"Content-Type": "application/json", "X-Hub-Signature": signature}

    def user_comments(self, conversation_id: str) -> list[str]:
        parts = self.conversations[conversation_id]["conversation_parts"]["conversation_parts"]
        return [re.sub(r"</?p>", "", p["body"]) for p in parts
                if p["author"]["type"] == "user" and p["part_type"] == "comment"]
