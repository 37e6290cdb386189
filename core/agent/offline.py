"""The `offline` provider: a deterministic, retrieval-grounded model behind the SDK's Model API.

It runs inside the same `agents.Runner`, tools and streaming as a real LLM, with no network:

    turn 1 (input ends with the user's message)     -> call the knowledge search tool (the customer
                                                        tool marked `offline_default`) with it
    turn 2 (input ends with a function_call_output)  -> an extractive answer: the whole sentences
                                                        and steps of the best passages that match
                                                        the question (extractive.py), each source
                                                        cited by title (url_citation annotations)

Small talk ("hi", "thanks", a bare "no": small_talk.py) is answered in kind, without a search.

When retrieval is weak it says it is not sure and offers a person instead of guessing.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
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
from deskpilot.core.agent.extractive import Excerpt, Source, render, select, terms
from deskpilot.core.agent.follow_ups import points_back, with_earlier
from deskpilot.core.agent.language import base_language, cannot_answer_in, detect, offline_text
from deskpilot.core.agent.small_talk import (
    BYE,
    DECLINE,
    NO,
    THANKS,
    YES,
    SmallTalk,
    small_talk,
)
from deskpilot.knowledge.index.calibration import UNCALIBRATED_WEIGHT

# What one step of a model's turn outputs: a message, or tool calls to make first.
Output = ResponseFunctionToolCall | ResponseOutputMessage

MODEL_NAME = "deskpilot-offline"


@dataclass(frozen=True)
class AnswerRule:
    """When the offline model answers rather than offers a person, and when it quotes two
    sections rather than one, from the search scores.

    A fused score is the passage's cosine plus λ · its BM25 share (at most 1; λ is the knowledge
    base's own, calibrated from its corpus), so `score − λ` is the least the top passage's
    cosine can be: a figure that means the same on a FAQ (λ 0.02) and on a manual (λ 1.5). The
    top passage must reach `min_cosine` by it. When it leads the next document of another title
    by less than `close_lead` · λ, the question fits both about as well (sibling sections of a
    manual, say): the answer quotes both rather than bet on one. What it quotes must still lead
    the best document it leaves out by `min_lead` · λ: a question that fits many sections alike
    is not answered by any one. Chosen on tuning data by bench/answer_confidence.py;
    docs/offline-model.md has the figures."""

    min_cosine: float
    close_lead: float
    min_lead: float


# bench/answer_confidence.py on the tuning sets (docs/offline-model.md).
ANSWER_RULE = AnswerRule(min_cosine=0.35, close_lead=0.3, min_lead=0.125)


def _by_title(sources: list[Source]) -> list[Source]:
    """The best source of each title, best first: a document of the same title is the same
    answer printed twice (a manual's chapters repeat sections)."""
    best: dict[str, Source] = {}
    for source in sorted(sources, key=lambda s: s.score, reverse=True):
        best.setdefault(source.title, source)
    return list(best.values())


def _close(ranked: list[Source], lexical_weight: float, rule: AnswerRule) -> bool:
    return len(ranked) > 1 and \
        ranked[0].score - ranked[1].score < rule.close_lead * lexical_weight


def close_call(sources: list[Source], lexical_weight: float = UNCALIBRATED_WEIGHT,
               rule: AnswerRule | None = None) -> bool:
    """Whether the best source leads the next one of another title by less than the rule's
    `close_lead` · λ."""
    return _close(_by_title(sources), lexical_weight, rule or ANSWER_RULE)


def _quoted(sources: list[Source], lexical_weight: float, rule: AnswerRule | None) -> int:
    """How many sections the rule quotes: 0 (hand over), 1, or 2 on a close call."""
    rule = rule or ANSWER_RULE
    ranked = _by_title(sources)
    if not ranked or ranked[0].score - lexical_weight < rule.min_cosine:
        return 0
    quoted = 2 if _close(ranked, lexical_weight, rule) else 1
    left_out = ranked[quoted].score if len(ranked) > quoted else 0.0
    return quoted if ranked[0].score - left_out >= rule.min_lead * lexical_weight else 0


def answer_rule(sources: list[Source], lexical_weight: float = UNCALIBRATED_WEIGHT,
                rule: AnswerRule | None = None) -> bool:
    """Whether the sources (one per document, with the search's fused scores) are convincing
    enough to answer from (by ANSWER_RULE by default); `lexical_weight`: the searcher's λ."""
    return _quoted(sources, lexical_weight, rule) > 0


def answer_excerpts(query: str, sources: list[Source],
                    lexical_weight: float = UNCALIBRATED_WEIGHT,
                    rule: AnswerRule | None = None) -> list[Excerpt]:
    """What the offline answer quotes: nothing (hand over) unless the rule trusts the sources;
    on a close call, the runner-up's excerpt too."""
    quoted = _quoted(sources, lexical_weight, rule)
    return select(query, sources, runner_up=quoted == 2) if quoted else []


HANDOVER_TEXT = offline_text("handover", "en")


def item_field(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [item_field(part, "text") for part in content or []]
    return " ".join(p for p in parts if isinstance(p, str))


def last_user_text(items: str | list[Any]) -> str:
    if isinstance(items, str):
        return items
    for item in reversed(items):
        if item_field(item, "role") == "user":
            return _message_text(item_field(item, "content")).strip()
    return ""


def parse_sources(output: Any) -> list[Source]:
    """The search tool's JSON output as Sources; anything unreadable counts as nothing found."""
    try:
        rows = json.loads(output)["passages"]
        return [
            Source(str(r["title"]), r.get("url"), str(r["text"]), float(r["score"]),
                   str(r.get("locale") or "en"), _headings(r.get("headings")))
            for r in rows
        ]
    except (TypeError, ValueError, KeyError):
        return []


def _headings(value: Any) -> tuple[str, ...]:
    # A list of lines; anything else (a plugin tool's bare string) names none, not its letters.
    return tuple(map(str, value)) if isinstance(value, list) else ()


def compose_answer(query: str, sources: list[Source],
                   lexical_weight: float = UNCALIBRATED_WEIGHT
                   ) -> tuple[str, list[AnnotationURLCitation]]:
    """The reply text and its citations, or the handover offer when retrieval is not convincing
    (`lexical_weight`: the searcher's λ, which the sources' scores include).
    A question in a language the knowledge is not written in gets an honest notice first (in
    that language where known): the offline model can only quote the knowledge as it is."""
    customer = detect(query)
    sources = [replace(s, locale=_written_in(s)) for s in sources]
    locales = Counter(s.locale for s in sources)
    # Its own words in the language it quotes; in the customer's when nothing was found.
    knowledge = locales.most_common(1)[0][0] if locales else None
    text, annotations = _extractive_answer(
        query, sources, lexical_weight,
        customer if customer in locales or not locales else knowledge)
    if customer is None or not locales or customer in locales:
        return text, annotations
    notice = cannot_answer_in(customer, knowledge or "en")
    if not annotations and text == offline_text("handover", knowledge):
        return notice, []
    shift = len(notice) + 2
    return f"{notice}\n\n{text}", [
        a.model_copy(update={"start_index": a.start_index + shift,
                             "end_index": a.end_index + shift})
        for a in annotations
    ]


def _written_in(source: Source) -> str:
    """The language a passage is written in: its locale's, unless that says English, which is
    also what a source without one got (a JSON Lines or Markdown help center's articles
    default to "en"): then the text's own when it is confidently another language."""
    declared = base_language(source.locale)
    return declared if declared != "en" else _detected(f"{source.title}\n{source.text}")


@lru_cache(maxsize=4096)  # the same passages answer many turns; detection is ~0.35 ms each
def _detected(text: str) -> str:
    return detect(text) or "en"


def _extractive_answer(query: str, sources: list[Source], lexical_weight: float,
                       language: str | None) -> tuple[str, list[AnnotationURLCitation]]:
    excerpts = answer_excerpts(query, sources, lexical_weight)
    if not excerpts:
        return offline_text("handover", language), []
    language = base_language(excerpts[0].source.locale)
    text = ""
    annotations: list[AnnotationURLCitation] = []
    for excerpt in excerpts:
        text += f"{render(excerpt)}\n({offline_text('source', language)}: "
        start = len(text)
        text += excerpt.source.title
        if excerpt.source.url:
            annotations.append(
                AnnotationURLCitation(
                    type="url_citation", url=excerpt.source.url, title=excerpt.source.title,
                    start_index=start, end_index=len(text),
                )
            )
        text += ")\n\n"
    return text + offline_text("closing", language), annotations


def small_talk_reply(chat: SmallTalk, messages: list[tuple[str, str]]) -> str:
    """The reply to small talk, in the conversation's language when the message fits it ("ok"
    is German too): a greeting back, "you're welcome" once something was answered, "all right"
    to a "no", a goodbye. `messages`: the conversation as (role, text), oldest first."""
    earlier = (detect(text) for role, text in reversed(messages[:-1]) if role == "user")
    language = chat.language(next((found for found in earlier if found), None))
    answered = any(role == "assistant" for role, _ in messages)
    if BYE in chat.kinds:
        key = "goodbye"
    elif not answered:
        key = "greeting"
    elif chat.kinds & {NO, DECLINE}:
        key = "declined"
    else:
        key = "welcome" if chat.kinds & {THANKS, YES} else "greeting"
    return offline_text(key, language)


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


def message(text: str, annotations: list[AnnotationURLCitation]) -> ResponseOutputMessage:
    """An assistant message with a fresh id (chatkit reuses message ids as thread item ids)."""
    return ResponseOutputMessage(
        type="message", id=_new_id("msg"), role="assistant", status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=annotations)],
    )


def _speaks_to(message: str, sources: list[Source], lexical_weight: float) -> bool:
    """Whether the answer to a follow-up, from passages found with the question before it,
    quotes something in the follow-up's own words (not only the earlier topic again)."""
    excerpts = answer_excerpts(message, sources, lexical_weight)
    quoted = " ".join(f"{e.source.title} " + " ".join(u.scored for u in e.units)
                      for e in excerpts)
    own = {term for term in terms(message) if len(term) > 1}  # not the "t" of "doesn't"
    return bool(own & terms(quoted))


def _follow_up_sources(message: str, alone: list[Source], together: list[Source],
                       lexical_weight: float) -> list[Source]:
    """What a follow-up is answered from: what it found `alone` or `together` with the question
    before it (follow_ups.py says when which)."""
    if not answer_excerpts(message, together, lexical_weight):
        return alone
    if points_back(message):  # alone only while both searches stay on one subject
        quoted = {e.source.title for e in answer_excerpts(message, alone, lexical_weight)}
        on_subject = together[0].title in {s.title for s in alone} and bool(
            quoted & {s.title for s in together})
        return alone if on_subject else together
    # It names its own subject: found with the earlier question, it must quote its words.
    return together if _speaks_to(message, together, lexical_weight) else alone


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
    person); `triggers`, the plugin tools it calls when a message matches their examples;
    `lexical_weight`, the knowledge base's current λ (its search scores include it)."""

    def __init__(self, search_tool: str | None = None,
                 triggers: tuple[offline_tools.OfflineTrigger, ...] = (),
                 lexical_weight: Callable[[], float] = lambda: UNCALIBRATED_WEIGHT) -> None:
        self.search_tool = search_tool
        self.triggers = triggers
        self.lexical_weight = lexical_weight

    def _turn(self, input: str | list[Any], tools: list[Any]) -> list[Output]:
        """This step's output: one message, or the tool calls to make first."""
        last = input[-1] if isinstance(input, list) and input else None
        if item_field(last, "type") == "function_call_output":
            called = offline_tools.called_tool(input, item_field(last, "call_id"))
            if called is not None and called != self.search_tool:
                return [self._message(offline_tools.reply_text(item_field(last, "output")), [])]
            return [self._answer(input, tools)]
        query = last_user_text(input)
        messages = offline_tools.conversation(input)
        chat = small_talk(query)
        if chat is not None:
            return [self._message(small_talk_reply(chat, messages), [])]
        step = offline_tools.plan(messages, self.triggers, tools, terms)
        if isinstance(step, offline_tools.Call):
            return [ResponseFunctionToolCall(
                type="function_call", id=_new_id("fc"), call_id=_new_id("call"),
                name=step.tool, arguments=json.dumps(step.arguments), status="completed",
            )]
        if isinstance(step, str):  # a tool matches but an argument is missing: ask for it
            return [self._message(step, [])]
        call = self._search_call(tools, query)
        if query and call is not None:
            # A follow-up that points back is always searched both ways (follow_ups.py): both
            # calls in one step, as a model makes parallel tool calls, so the two searches run
            # at once (their queries embedded in one batch) and the turn has one step less.
            together = with_earlier(query, messages) if points_back(query) else None
            second = self._search_call(tools, together) if together is not None else None
            return [call] if second is None else [call, second]
        # Nothing to search with (empty message, or the search plugin is disabled).
        return [self._message(offline_text("handover", detect(query)), [])]

    def _answer(self, input: list[Any], tools: list[Any]) -> Output:
        """The answer from what the knowledge search found for the message alone, or, for a
        follow-up, maybe from a second search with the question before it (follow_ups.py)."""
        message, weight = last_user_text(input), self.lexical_weight()
        found = self._found(input)  # the message's search, then maybe the one with context
        if len(found) == 1:
            # A follow-up that found nothing to quote alone is searched with context after all.
            query = with_earlier(message, offline_tools.conversation(input))
            if query is not None and not answer_excerpts(message, found[0], weight):
                call = self._search_call(tools, query)
                if call is not None:
                    return call
            return self._message(*compose_answer(message, found[0], weight))
        sources = _follow_up_sources(message, found[0], found[-1], weight)
        return self._message(*compose_answer(message, sources, weight))

    def _search_call(self, tools: list[Any], query: str) -> ResponseFunctionToolCall | None:
        """A call of the knowledge search with `query`, if the agent has that tool."""
        search = next((tool for tool in tools
                       if self.search_tool and getattr(tool, "name", None) == self.search_tool),
                      None)
        argument = _string_argument(search)
        if search is None or argument is None:
            return None
        return ResponseFunctionToolCall(
            type="function_call", id=_new_id("fc"), call_id=_new_id("call"),
            name=search.name, arguments=json.dumps({argument: query}), status="completed",
        )

    def _found(self, input: list[Any]) -> list[list[Source]]:
        """What each knowledge search since the customer's last message returned, in order
        (earlier turns' outputs are not read again)."""
        start = next((at for at in range(len(input) - 1, -1, -1)
                      if item_field(input[at], "role") == "user"), -1) + 1
        turn = input[start:]
        searches = {item_field(item, "call_id") for item in turn
                    if item_field(item, "type") == "function_call"
                    and item_field(item, "name") == self.search_tool}
        found = [parse_sources(item_field(item, "output")) for item in turn
                 if item_field(item, "type") == "function_call_output"
                 and item_field(item, "call_id") in searches]
        return found or [[]]

    @staticmethod
    def _message(text: str, annotations: list[AnnotationURLCitation]) -> ResponseOutputMessage:
        return message(text, annotations)

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
        response = _response(self._turn(input, tools))
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
        for event in turn_events(self._turn(input, tools)):
            yield event


def turn_events(output: list[Output]) -> Iterable[ResponseStreamEvent]:
    """A finished step as the stream events a real model sends: for a message, the order
    ChatKit turns into thread.item.added / updated / done; then response.completed, which
    carries the step's tool calls."""
    seq = 0
    for index, item in enumerate(output):
        if not isinstance(item, ResponseOutputMessage):
            continue
        part = item.content[0]
        assert isinstance(part, ResponseOutputText)
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added", sequence_number=seq, output_index=index,
            item=item.model_copy(update={"content": [], "status": "in_progress"}),
        )
        seq += 1
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added", sequence_number=seq, output_index=index,
            item_id=item.id, content_index=0,
            part=ResponseOutputText(type="output_text", text="", annotations=[]),
        )
        for delta in _chunks(part.text):
            seq += 1
            yield ResponseTextDeltaEvent(
                type="response.output_text.delta", sequence_number=seq, output_index=index,
                item_id=item.id, content_index=0, delta=delta, logprobs=[],
            )
        seq += 1
        yield ResponseTextDoneEvent(
            type="response.output_text.done", sequence_number=seq, output_index=index,
            item_id=item.id, content_index=0, text=part.text, logprobs=[],
        )
        seq += 1
        # Annotations travel on the finished message only (see NOTES.md).
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done", sequence_number=seq, output_index=index, item=item,
        )
        seq += 1
    yield ResponseCompletedEvent(
        type="response.completed", sequence_number=seq, response=_response(output),
    )
