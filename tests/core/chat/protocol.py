"""A ChatKit protocol client over HTTP: builds each request type's JSON, parses SSE frames."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi.testclient import TestClient

from deskpilot.core.simulation.conversation import sse_events  # the one SSE frame parser


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }


def request(type: str, **params: Any) -> dict[str, Any]:
    return {"type": type, "params": params}


@dataclass
class Turn:
    response: httpx.Response
    events: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type]

    @property
    def thread_id(self) -> str:
        return self.of_type("thread.created")[0]["thread"]["id"]

    @property
    def done_items(self) -> list[dict[str, Any]]:
        return [e["item"] for e in self.of_type("thread.item.done")]

    @property
    def assistant_text(self) -> str:
        return "".join(part["text"] for item in self.done_items
                       if item["type"] == "assistant_message" for part in item["content"])


class ChatClient:
    """One visitor: its own cookie jar and, optionally, a signed user token."""

    def __init__(self, app: Any, token: str | None = None) -> None:
        self.http = TestClient(app)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, body: Any) -> httpx.Response:
        content = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.http.post("/chatkit", content=content, headers={
            **self.headers, "Content-Type": "application/json"})

    def stream(self, body: dict[str, Any]) -> Turn:
        response = self.post(body)
        events = sse_events(response.text) if response.status_code == 200 else []
        if response.status_code == 200:
            assert response.headers["content-type"].startswith("text/event-stream")
        return Turn(response, events)

    def call(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        return response.json()

    # streaming requests

    def create(self, text: str, attachments: list[str] | None = None) -> Turn:
        return self.stream(request("threads.create", input=user_input(text, attachments)))

    def add_message(self, thread_id: str, text: str) -> Turn:
        return self.stream(request("threads.add_user_message", thread_id=thread_id,
                                   input=user_input(text)))

    def add_tool_output(self, thread_id: str, result: Any) -> Turn:
        return self.stream(request("threads.add_client_tool_output", thread_id=thread_id,
                                   result=result))

    def retry_after(self, thread_id: str, item_id: str) -> Turn:
        return self.stream(request("threads.retry_after_item", thread_id=thread_id,
                                   item_id=item_id))

    # non-streaming requests

    def get_thread(self, thread_id: str) -> dict[str, Any]:
        return self.call(request("threads.get_by_id", thread_id=thread_id))

    def list_threads(self, **params: Any) -> dict[str, Any]:
        return self.call(request("threads.list", **params))

    def list_items(self, thread_id: str, **params: Any) -> dict[str, Any]:
        return self.call(request("items.list", thread_id=thread_id, **params))

    def feedback(self, thread_id: str, item_ids: list[str], kind: str) -> dict[str, Any]:
        return self.call(request("items.feedback", thread_id=thread_id, item_ids=item_ids,
                                 kind=kind))

    def update_thread(self, thread_id: str, title: str) -> dict[str, Any]:
        return self.call(request("threads.update", thread_id=thread_id, title=title))

    def delete_thread(self, thread_id: str) -> dict[str, Any]:
        return self.call(request("threads.delete", thread_id=thread_id))

    def create_attachment(self, name: str, size: int, mime_type: str) -> httpx.Response:
        return self.post(request("attachments.create", name=name, size=size,
                                 mime_type=mime_type))

    def delete_attachment(self, attachment_id: str) -> httpx.Response:
        return self.post(request("attachments.delete", attachment_id=attachment_id))

    def upload(self, url: str, data: bytes, mime_type: str) -> httpx.Response:
        return self.http.post(url, content=data,
                              headers={**self.headers, "Content-Type": mime_type})
