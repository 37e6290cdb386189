"""Malformed ChatKit requests never get a 5xx, and a stream that starts always ends cleanly."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .protocol import ChatClient, request, sse_events, user_input

REQUEST_TYPES = [
    "threads.create", "threads.add_user_message", "threads.add_client_tool_output",
    "threads.add_structured_input", "threads.retry_after_item", "threads.custom_action",
    "threads.sync_custom_action", "threads.get_by_id", "threads.list", "items.list",
    "items.feedback", "attachments.create", "attachments.delete", "threads.update",
    "threads.delete", "input.transcribe",
]
PARAM_NAMES = ["thread_id", "item_id", "item_ids", "input", "limit", "order", "after", "title",
               "kind", "result", "action", "attachment_id", "name", "size", "mime_type",
               "content", "attachments", "inference_options", "audio_base64"]
IDS = ["thr_missing", "msg_missing", "atc_missing", "", "../x", "é"]


def json_values(ids: list[str]) -> st.SearchStrategy[Any]:
    """Any JSON value, with real and bogus ids among the strings."""
    scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
               | st.floats(allow_nan=False) | st.text(max_size=20) | st.sampled_from(ids))
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
            st.sampled_from(PARAM_NAMES) | st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


def shaped(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Request-like objects: a known or unknown type, params of any shape."""
    params = st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=8), values,
                             max_size=6)
    return st.fixed_dictionaries(
        {"type": st.sampled_from(REQUEST_TYPES) | st.text(max_size=20)},
        optional={"params": params | values, "metadata": values},
    )


def _valid(thread_id: str, item_id: str) -> list[dict[str, Any]]:
    return [
        request("threads.create", input=user_input("hi")),
        request("threads.add_user_message", thread_id=thread_id, input=user_input("hi")),
        request("threads.retry_after_item", thread_id=thread_id, item_id=item_id),
        request("items.list", thread_id=thread_id, limit=5, order="asc"),
        request("items.feedback", thread_id=thread_id, item_ids=[item_id], kind="positive"),
        request("threads.update", thread_id=thread_id, title="t"),
        request("attachments.create", name="a.png", size=3, mime_type="image/png"),
        request("threads.list", limit=2),
    ]


@st.composite
def mutated(draw: st.DrawFn, templates: list[dict[str, Any]],
            values: st.SearchStrategy[Any]) -> dict[str, Any]:
    """A valid request with one field dropped or replaced by anything."""
    body = json.loads(json.dumps(draw(st.sampled_from(templates))))
    target = body["params"]
    if "input" in target and draw(st.booleans()):
        target = target["input"]
    key = draw(st.sampled_from(sorted(target)))
    if draw(st.booleans()):
        del target[key]
    else:
        target[key] = draw(values)
    return body


def _check(client: ChatClient, content: bytes | str) -> None:
    response = client.post(content)
    assert response.status_code < 500, (content, response.text)
    if response.status_code != 200:
        body = response.json()  # a message, never an HTML error page or a traceback
        assert body.get("error") or body.get("detail")
    elif response.headers["content-type"].startswith("text/event-stream"):
        events = sse_events(response.text)  # every frame is whole JSON
        assert events and all("type" in event for event in events)
    else:
        response.json()


def test_malformed_bodies_never_get_a_5xx(app: FastAPI) -> None:
    client = ChatClient(app)
    turn = client.create("a real thread to aim at")
    thread_id, item_id = turn.thread_id, turn.done_items[0]["id"]
    values = json_values([*IDS, thread_id, item_id])
    bodies = (st.binary(max_size=200) | values.map(json.dumps) | shaped(values).map(json.dumps)
              | mutated(_valid(thread_id, item_id), values).map(json.dumps))

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(bodies)
    def run(content: bytes | str) -> None:
        _check(client, content)

    run()


def test_named_problems(client: ChatClient) -> None:
    cases = {
        b"{not json": "malformed JSON",
        b'{"type": "threads.explode", "params": {}}': "threads.explode",
        b'{"params": {}}': "type",
        json.dumps(request("threads.create", input={"content": []})).encode(): "attachments",
        json.dumps(request("threads.list", limit="many")).encode(): "limit",
    }
    for body, needle in cases.items():
        response = client.post(body)
        assert response.status_code == 400, body
        assert needle in response.json()["error"], (body, response.json())
