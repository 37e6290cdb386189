"""A local fake of the OpenAI HTTP API that replays scripted turns in the real wire format.

`POST /responses` (Responses API) and `POST /chat/completions` (Chat Completions), each as JSON
or, when the request says `"stream": true`, as server-sent events; every call reports 10 input
and 5 output tokens (a stream of Chat Completions only when asked to). A turn is either a tool call
`("tool", name, arguments_json)` or a text reply `("text", text)`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Turn = tuple[str, ...]

_USAGE_RESPONSES = {
    "input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15,
}
_USAGE_CHAT = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


class FakeOpenAI:
    """Serves scripted turns in order; `requests` records each (path, body)."""

    def __init__(self, turns: list[Turn], *, chat_id: str = "chatcmpl-same") -> None:
        self.turns = list(turns)
        self.chat_id = chat_id  # the same id every time, like many compatible servers
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._count = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((self.path, body))
                fake._count += 1
                turn = fake.turns.pop(0)
                if self.path.endswith("/responses"):
                    events = fake._responses_events(turn)
                elif self.path.endswith("/chat/completions"):
                    usage = (body.get("stream_options") or {}).get("include_usage", False)
                    events = fake._chat_events(turn, usage)
                else:
                    self.send_error(404)
                    return
                if body.get("stream"):
                    self._sse(events)
                else:
                    final = events[-1][1] if self.path.endswith("/responses") else None
                    self._json(final["response"] if isinstance(final, dict)
                               else fake._chat_completion(turn))

            def _json(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: list[tuple[str | None, dict[str, Any] | str]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for name, payload in events:
                    head = f"event: {name}\n" if name else ""
                    data = payload if isinstance(payload, str) else json.dumps(payload)
                    self.wfile.write(f"{head}data: {data}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- Responses API -----------------------------------------------------------------------
    def _responses_events(self, turn: Turn) -> list[tuple[str | None, dict[str, Any]]]:
        n = self._count
        response = {
            "id": f"resp_{n}", "object": "response", "created_at": int(time.time()),
            "status": "in_progress", "model": "gpt-4.1-mini", "output": [],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "usage": None,
        }
        events: list[tuple[str | None, dict[str, Any]]] = []

        def emit(kind: str, **fields: Any) -> None:
            events.append((kind, {"type": kind, "sequence_number": len(events), **fields}))

        emit("response.created", response=response)
        if turn[0] == "tool":
            item = {"type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}",
                    "name": turn[1], "arguments": turn[2], "status": "completed"}
            emit("response.output_item.added", output_index=0,
                 item={**item, "arguments": "", "status": "in_progress"})
            emit("response.function_call_arguments.delta", item_id=item["id"], output_index=0,
                 delta=turn[2])
            emit("response.function_call_arguments.done", item_id=item["id"], output_index=0,
                 arguments=turn[2], name=turn[1])
        else:
            text = turn[1]
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            item = {"type": "message", "id": f"msg_{n}", "role": "assistant",
                    "status": "completed", "content": [part]}
            emit("response.output_item.added", output_index=0,
                 item={**item, "content": [], "status": "in_progress"})
            emit("response.content_part.added", item_id=item["id"], output_index=0,
                 content_index=0, part={**part, "text": ""})
            for word in _words(text):
                emit("response.output_text.delta", item_id=item["id"], output_index=0,
                     content_index=0, delta=word, logprobs=[])
            emit("response.output_text.done", item_id=item["id"], output_index=0,
                 content_index=0, text=text, logprobs=[])
            emit("response.content_part.done", item_id=item["id"], output_index=0,
                 content_index=0, part=part)
        emit("response.output_item.done", output_index=0, item=item)
        emit("response.completed", response={**response, "status": "completed",
                                             "output": [item], "usage": _USAGE_RESPONSES})
        return events

    # -- Chat Completions --------------------------------------------------------------------
    def _chat_completion(self, turn: Turn) -> dict[str, Any]:
        if turn[0] == "tool":
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [{
                "id": f"call_{self._count}", "type": "function",
                "function": {"name": turn[1], "arguments": turn[2]}}]}
            finish = "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": turn[1]}, "stop"
        return {
            "id": self.chat_id, "object": "chat.completion", "created": int(time.time()),
            "model": "local-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish,
                         "logprobs": None}],
            "usage": _USAGE_CHAT,
        }

    def _chat_events(self, turn: Turn, usage: bool
                     ) -> list[tuple[str | None, dict[str, Any] | str]]:
        """The stream's chunks; asked for usage (`stream_options.include_usage`), a last
        chunk with no choices carries it, as OpenAI sends it."""
        def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict]:
            return None, {
                "id": self.chat_id, "object": "chat.completion.chunk",
                "created": int(time.time()), "model": "local-model",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                             "logprobs": None}],
            }

        events: list[tuple[str | None, dict[str, Any] | str]] = [
            chunk({"role": "assistant", "content": ""})
        ]
        if turn[0] == "tool":
            events.append(chunk({"tool_calls": [{
                "index": 0, "id": f"call_{self._count}", "type": "function",
                "function": {"name": turn[1], "arguments": ""}}]}))
            half = len(turn[2]) // 2
            for piece in (turn[2][:half], turn[2][half:]):
                events.append(chunk({"tool_calls": [{"index": 0,
                                                     "function": {"arguments": piece}}]}))
            events.append(chunk({}, "tool_calls"))
        else:
            events.extend(chunk({"content": word}) for word in _words(turn[1]))
            events.append(chunk({}, "stop"))
        if usage:
            last = chunk({})[1]
            events.append((None, {**last, "choices": [], "usage": _USAGE_CHAT}))
        events.append((None, "[DONE]"))
        return events


def _words(text: str) -> Iterator[str]:
    words = text.split(" ")
    for i, word in enumerate(words):
        yield word if i == len(words) - 1 else word + " "
