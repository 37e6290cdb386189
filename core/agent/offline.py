"""The `offline` provider: a deterministic, retrieval-grounded model behind the SDK's Model API.

It runs inside the same `agents.Runner`, tools and streaming as a real LLM, with no network:

    turn 1 (input ends with the user's message)     -> call the knowledge search tool (the customer
                                                        tool marked `offline_default`) with it
    turn 2 (input ends with a function_call_output)  -> an extractive answer: one or two short
                                                        excerpts of the best passages, each
                                                        cited by title (url_citation annotations)

When retrieval is weak it says it is not sure and offers a person instead of guessing.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from agents import ModelResponse, Usage
from agents.models.interface import Model, ModelTracing
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)
from openai.types.responses.response_output_text import AnnotationURLCitation

from deskpilot.core.agent import offline_tools

MODEL_NAME = "deskpilot-offline"

# Confidence: the top passage must clear both bars. Scores are the Searcher's fused scores
# (convex fusion: ≈ the cosine similarity, plus at most 0.0026 from BM25); the lexical bar
# catches off-topic questions whose closest passage is still fairly similar.
# How these were chosen is in docs/offline-model.md.
MIN_SCORE = 0.35
MIN_TERM_COVERAGE = 0.5
# A second source is cited only when it is nearly as good as the first.
SECOND_SOURCE_RATIO = 0.6
EXCERPT_CHARS = 280

HANDOVER_TEXT = (
    "I'm not sure about that: I couldn't find an answer in our help center. "
    "Would you like me to hand you over to a person? Just say \"talk to a person\"."
)

_STOPWORD_TEXT = (
    "a about after all also am an and any are as at be been but by can could do does did for "
    "from get got has have how i if in into is it its me my no not of on or our please so "
    "some that the their them then there this to up us was we what when where which who why "
    "will with would you your hi hello thanks thank"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def _stem(word: str) -> str:
    # Crude suffix stripping, enough to match "resetting"/"reset" or "invoices"/"invoice".
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def term_coverage(query: str, text: str) -> float:
    """Share of the query's content terms found in `text` (0 when the query has none)."""
    wanted = terms(query)
    return len(wanted & terms(text)) / len(wanted) if wanted else 0.0


@dataclass(frozen=True)
class Source:
    title: str
    url: str | None
    text: str
    score: float


def _field(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [_field(part, "text") for part in content or []]
    return " ".join(p for p in parts if isinstance(p, str))


def last_user_text(items: str | list[Any]) -> str:
    if isinstance(items, str):
        return items
    for item in reversed(items):
        if _field(item, "role") == "user":
            return _message_text(_field(item, "content")).strip()
    return ""


def parse_sources(output: Any) -> list[Source]:
    """The search tool's JSON output as Sources; anything unreadable counts as nothing found."""
    try:
        rows = json.loads(output)["passages"]
        return [
            Source(str(r["title"]), r.get("url"), str(r["text"]), float(r["score"])) for r in rows
        ]
    except (TypeError, ValueError, KeyError):
        return []


def excerpt(query: str, source: Source, limit: int = EXCERPT_CHARS) -> str:
    """The sentences of the passage that best match the query, in their order, within `limit`."""
    sentences = [s.strip() for s in _SENTENCE.split(source.text) if s.strip()]
    # Chunks carry their title as the first line; quoting it back adds nothing.
    if sentences and sentences[0].rstrip(".:") == source.title.strip():
        sentences = sentences[1:]
    if not sentences:
        return source.text[:limit].strip()
    wanted = terms(query)
    ranked = sorted(
        range(len(sentences)), key=lambda i: (-len(wanted & terms(sentences[i])), i)
    )
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if used + len(sentences[i]) > limit and chosen:
            break
        chosen.append(i)
        used += len(sentences[i]) + 1
    text = " ".join(sentences[i] for i in sorted(chosen))
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def compose_answer(query: str, sources: list[Source]) -> tuple[str, list[AnnotationURLCitation]]:
    """The reply text and its citations, or the handover offer when retrieval is not convincing."""
    ranked = sorted(sources, key=lambda s: s.score, reverse=True)
    top = ranked[0] if ranked else None
    if (
        top is None
        or top.score < MIN_SCORE
        or term_coverage(query, f"{top.title} {top.text}") < MIN_TERM_COVERAGE
    ):
        return HANDOVER_TEXT, []
    chosen = [top]
    for other in ranked[1:]:
        if other.title != top.title and other.score >= top.score * SECOND_SOURCE_RATIO and (
            term_coverage(query, f"{other.title} {other.text}") >= MIN_TERM_COVERAGE
        ):
            chosen.append(other)
            break
    text = "Here is what our help center says:\n"
    annotations: list[AnnotationURLCitation] = []
    for source in chosen:
        text += f"\n{excerpt(query, source)}\n(Source: "
        start = len(text)
        text += source.title
        if source.url:
            annotations.append(
                AnnotationURLCitation(
                    type="url_citation", url=source.url, title=source.title,
                    start_index=start, end_index=len(text),
                )
            )
        text += ")\n"
    text += "\nDid that answer your question? If not, I can hand you over to a person."
    return text, annotations


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _response(output: list[Any]) -> Response:
    return Response(
        id=_new_id("resp"), created_at=time.time(), model=MODEL_NAME, object="response",
        output=output, parallel_tool_calls=False, tool_choice="auto", tools=[], status="completed",
    )


def _chunks(text: str) -> Iterable[str]:
    # A few words per delta, so clients render the answer progressively like a real model's.
    words = re.findall(r"\S+\s*|\s+", text)
    for start in range(0, len(words), 4):
        yield "".join(words[start : start + 4])


def _string_argument(tool: Any) -> str | None:
    """The name of a function tool's one required string parameter, if it has one."""
    schema = getattr(tool, "params_json_schema", None) or {}
    required = schema.get("required") or []
    properties = schema.get("properties") or {}
    strings = [name for name in required if properties.get(name, {}).get("type") == "string"]
    return strings[0] if len(strings) == 1 else None


class OfflineModel(Model):
    """Deterministic and stateless: the same input always yields the same turn (ids aside).

    `search_tool` names the tool it asks with the customer's words (None: it only offers a
    person); `triggers`, the plugin tools it calls when a message matches their examples."""

    def __init__(self, search_tool: str | None = None,
                 triggers: tuple[offline_tools.OfflineTrigger, ...] = ()) -> None:
        self.search_tool = search_tool
        self.triggers = triggers

    def _turn(
        self, input: str | list[Any], tools: list[Any]
    ) -> ResponseFunctionToolCall | ResponseOutputMessage:
        last = input[-1] if isinstance(input, list) and input else None
        if _field(last, "type") == "function_call_output":
            called = offline_tools.called_tool(input, _field(last, "call_id"))
            if called is not None and called != self.search_tool:
                return self._message(offline_tools.reply_text(_field(last, "output")), [])
            text, annotations = compose_answer(
                last_user_text(input), parse_sources(_field(last, "output"))
            )
            return self._message(text, annotations)
        query = last_user_text(input)
        step = offline_tools.plan(offline_tools.conversation(input), self.triggers, tools, terms)
        if isinstance(step, offline_tools.Call):
            return ResponseFunctionToolCall(
                type="function_call", id=_new_id("fc"), call_id=_new_id("call"),
                name=step.tool, arguments=json.dumps(step.arguments), status="completed",
            )
        if isinstance(step, str):  # a tool matches but an argument is missing: ask for it
            return self._message(step, [])
        search = next((tool for tool in tools
                       if self.search_tool and getattr(tool, "name", None) == self.search_tool),
                      None)
        argument = _string_argument(search)
        if query and search is not None and argument is not None:
            return ResponseFunctionToolCall(
                type="function_call", id=_new_id("fc"), call_id=_new_id("call"),
                name=search.name, arguments=json.dumps({argument: query}), status="completed",
            )
        # Nothing to search with (empty message, or the search plugin is disabled).
        return self._message(HANDOVER_TEXT, [])

    @staticmethod
    def _message(text: str, annotations: list[AnnotationURLCitation]) -> ResponseOutputMessage:
        return ResponseOutputMessage(
            type="message", id=_new_id("msg"), role="assistant", status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=annotations)],
        )

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: Any,
    ) -> ModelResponse:
        response = _response([self._turn(input, tools)])
        return ModelResponse(output=response.output, usage=Usage(requests=1),
                             response_id=response.id)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: Any,
    ) -> AsyncIterator[ResponseStreamEvent]:
        item = self._turn(input, tools)
        seq = 0
        if isinstance(item, ResponseOutputMessage):
            # The event order ChatKit turns into thread.item.added / updated / done.
            part = item.content[0]
            assert isinstance(part, ResponseOutputText)
            yield ResponseOutputItemAddedEvent(
                type="response.output_item.added", sequence_number=seq, output_index=0,
                item=item.model_copy(update={"content": [], "status": "in_progress"}),
            )
            seq += 1
            yield ResponseContentPartAddedEvent(
                type="response.content_part.added", sequence_number=seq, output_index=0,
                item_id=item.id, content_index=0,
                part=ResponseOutputText(type="output_text", text="", annotations=[]),
            )
            for delta in _chunks(part.text):
                seq += 1
                yield ResponseTextDeltaEvent(
                    type="response.output_text.delta", sequence_number=seq, output_index=0,
                    item_id=item.id, content_index=0, delta=delta, logprobs=[],
                )
            seq += 1
            yield ResponseTextDoneEvent(
                type="response.output_text.done", sequence_number=seq, output_index=0,
                item_id=item.id, content_index=0, text=part.text, logprobs=[],
            )
            seq += 1
            # Annotations travel on the finished message only (see NOTES.md).
            yield ResponseOutputItemDoneEvent(
                type="response.output_item.done", sequence_number=seq, output_index=0, item=item,
            )
            seq += 1
        yield ResponseCompletedEvent(
            type="response.completed", sequence_number=seq, response=_response([item]),
        )
