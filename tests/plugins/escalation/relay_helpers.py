"""Helpers for the relay tests: a chat client that also lists a thread's items, and signed
webhook deliveries for the local connector."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.plugins.support_fakes import Chat

LOCAL_SECRET = "local-webhook-secret"


def items(chat: Chat, thread_id: str) -> list[dict[str, Any]]:
    body = {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc",
                                             "limit": 100}}
    response = chat.http.post(chat.path, content=json.dumps(body), headers={
        **chat.headers, "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def text_of(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content", []))


def person_of(item: dict[str, Any]) -> dict[str, Any] | None:
    """The relay's marker on a person's message (author, event), or None (the AI's)."""
    for part in item.get("content", []):
        for annotation in part.get("annotations", []):
            marker = annotation["source"].get("data", {}).get("deskpilot")
            # Not the plugin's own messages: the hand-over, or its email question before it.
            if marker and marker.get("event") not in ("handoff", "handoff_pending"):
                return marker
    return None


def chat_lines(chat: Chat, thread_id: str) -> list[str]:
    """The thread as "who: text" lines, oldest first."""
    lines = []
    for item in items(chat, thread_id):
        if item["type"] == "user_message":
            lines.append(f"customer: {text_of(item)}")
        elif item["type"] == "assistant_message":
            marker = person_of(item)
            who = (marker.get("author") or "person") if marker else "assistant"
            lines.append(f"{who}: {text_of(item)}")
    return lines


def local_webhook(http: TestClient, connector: str, payload: dict[str, Any],
                  delivery: str | None = None, secret: str = LOCAL_SECRET) -> Any:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return http.post(f"/v1/webhooks/{connector}", content=body, headers={
        "Content-Type": "application/json", "X-Deskpilot-Signature": signature,
        "X-Delivery-Id": delivery or uuid.uuid4().hex})
