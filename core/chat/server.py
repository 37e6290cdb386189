"""Deskpilot's ChatKit server: runs an agent over the thread's history — the customer agent
(`core.agent`), or a plugin's own (the staff copilot, through `platform.chat_endpoint`).

The agent is built per turn; before it runs, plugins may take the message
(`before_agent_turn`: the handoff to a person). This module only feeds the agent history and
turns its streamed run into ChatKit events.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from agents import Runner, RunResultStreaming, ToolCallItem
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    Attachment,
    ChatKitReq,
    FeedbackKind,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    is_streaming_req,
)
from openai.types.responses import EasyInputMessageParam, ResponseInputTextParam
from pydantic import BaseModel, TypeAdapter

from deskpilot._chat import AgentAnswer, ChatTurn, Reply, RequestContext
from deskpilot._documents import http_url
from deskpilot._errors import ClientError
from deskpilot._tools import ToolAudience
from deskpilot.core.budget import call_scope
from deskpilot.core.chat.attachments import LocalAttachmentStore
from deskpilot.core.chat.posting import marked_message
from deskpilot.core.chat.store import ChatStore

if TYPE_CHECKING:
    from deskpilot._platform import AgentFactory
    from deskpilot.core.services import Services


# Built once: the SDK's process() builds a TypeAdapter of the whole request union per call (~5 ms).
REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)
HISTORY_ITEMS = 40
TITLE_CHARS = 60


def safe_links(event: ThreadStreamEvent) -> ThreadStreamEvent | None:
    """The event without url annotations that are not http(s) (a `javascript:` source would be
    a clickable script in a client that does not filter it); None if nothing is left."""
    def safe(annotation: Annotation) -> bool:
        return not isinstance(annotation.source, URLSource) or http_url(
            annotation.source.url) is not None

    match event:
        case ThreadItemUpdatedEvent(update=AssistantMessageContentPartAnnotationAdded() as added):
            return event if safe(added.annotation) else None
        case ThreadItemAddedEvent() | ThreadItemDoneEvent() | ThreadItemReplacedEvent() if (
                isinstance(event.item, AssistantMessageItem)):
            content = [part.model_copy(update={"annotations": [
                a for a in part.annotations if safe(a)]}) for part in event.item.content]
            return event.model_copy(update={"item": event.item.model_copy(
                update={"content": content})})
    return event


@dataclass
class PluginsDeciding:
    """Whether the turn's plugins (`before_agent_turn`) have decided, and what they refused.

    The endpoint holds a stream's response until then, so that a plugin's ClientError (a
    handoff over its rate limit: 429) is the response's status, not an event in a 200. Set
    per request in PLUGINS_DECIDING."""

    decided: bool = False
    refusal: ClientError | None = None
    #: The refused message (thread id, item id): a 429 leaves nothing of the request behind.
    refused_message: tuple[str, str] | None = None
    #: The request opens a thread (`threads.create`), told to the plugins as ChatTurn.new_thread.
    new_thread: bool = False


PLUGINS_DECIDING: ContextVar[PluginsDeciding | None] = ContextVar("plugins_deciding",
                                                                  default=None)


class PluginsDecided(BaseModel):
    """Not a ChatKit event: what respond() yields once the plugins have decided, so the
    endpoint's wait ends there and then (before the agent's first words). The endpoint drops
    it; only streams with PLUGINS_DECIDING set carry it."""

    type: Literal["deskpilot.plugins_decided"] = "deskpilot.plugins_decided"


#: PluginsDecided as the SDK frames it in the stream.
PLUGINS_DECIDED_CHUNK = (
    b"data: " + PluginsDecided().model_dump_json(by_alias=True, exclude_none=True).encode()
    + b"\n\n"
)


class _RunEnded:
    """The last item of a run's event queue: how it ended."""

    error: Exception | None = None


class HistoryConverter(ThreadItemConverter):
    """The SDK converter raises on attachments and tags; describe them to the model as text.

    Earlier answers are replayed as plain text: the SDK sends them as `output_text` parts,
    which the Agents SDK's Chat Completions converter rejects, failing every later turn.
    """

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> EasyInputMessageParam:
        # A string is valid assistant content for both the Responses and Chat Completions paths.
        # Parts joined as the Agents SDK joins an output message's text for Chat Completions.
        return EasyInputMessageParam(
            type="message", role="assistant", content="\n".join(c.text for c in item.content)
        )

    async def attachment_to_message_content(self, attachment: Attachment) -> Any:
        return ResponseInputTextParam(
            type="input_text",
            text=f"[The customer attached a file: {attachment.name} ({attachment.mime_type})]",
        )

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> Any:
        return ResponseInputTextParam(
            type="input_text", text=f"@{tag.text}: {json.dumps(tag.data, default=str)}"
        )


def _text(reply: str | Reply) -> str:
    return reply.text if isinstance(reply, Reply) else reply


def message_text(message: UserMessageItem | AssistantMessageItem) -> str:
    return " ".join(" ".join(part.text for part in message.content
                             if isinstance(part, UserMessageTextContent | AssistantMessageContent)
                             ).split())


def title_from(message: UserMessageItem) -> str | None:
    text = message_text(message)
    if not text:
        return None
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


class DeskpilotChatServer(ChatKitServer[RequestContext]):
    store: ChatStore

    def __init__(
        self,
        services: Services,
        store: ChatStore,
        attachment_store: LocalAttachmentStore,
        build_agent: AgentFactory,
        audience: ToolAudience,
        workflow: str,
    ) -> None:
        super().__init__(store, attachment_store)
        self.services = services
        self.build_agent = build_agent
        # Who is chatting: customers (the widget), or staff (a plugin's chat, e.g. the copilot).
        self.audience = audience
        self.workflow = workflow
        self.converter = HistoryConverter()
        # Admission control: respond() runs only after the turn's first events (thread created,
        # user message saved) went out, so a burst of arrivals is acknowledged at once while
        # agent runs, all sharing one event loop, queue here instead of slowing each other.
        self.turns = asyncio.Semaphore(services.settings.chat.max_concurrent_turns)
        self._runs: set[asyncio.Task[None]] = set()

    async def process(
        self, request: str | bytes | bytearray, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        return await self.process_request(REQUEST.validate_json(request), context)

    async def process_request(
        self, request: ChatKitReq, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        """`process()` for a request already parsed (the endpoint validates it first)."""
        if is_streaming_req(request):
            return StreamingResult(self._process_streaming(request, context))
        return NonStreamingResult(await self._process_non_streaming(request, context))

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        started = time.perf_counter()
        metrics, audience = self.services.metrics, self.audience.value
        if input_user_message is not None and not thread.title:
            # The server saves the thread and tells the client when respond() changes it.
            thread.title = title_from(input_user_message)
        # A plugin may take the message before the agent runs: a handoff ("talk to a person"),
        # or the bot staying quiet while a person owns the conversation.
        deciding = PLUGINS_DECIDING.get()
        turn = self._turn(thread, input_user_message, context,
                          new_thread=deciding is not None and deciding.new_thread)
        try:
            reply = await self._first_answer("before_agent_turn", turn=turn)
        except ClientError as refusal:
            if deciding is None or deciding.decided:
                raise CustomStreamError(refusal.message) from refusal
            deciding.refusal = refusal  # the endpoint answers with its status
            if input_user_message is not None:
                deciding.refused_message = (thread.id, input_user_message.id)
            reply = None
        if deciding is not None and not deciding.decided:
            deciding.decided = True
            if deciding.refusal is not None:
                return
            yield PluginsDecided()  # type: ignore[misc] - dropped by the endpoint
        if reply is not None:
            metrics.chat_turn(audience, "plugin")
            if _text(reply):  # "" is a plugin keeping the bot silent
                yield ThreadItemDoneEvent(item=self._assistant_message(thread, reply, context))
            return
        metrics.chat_turn(audience, "agent")
        answers: list[AssistantMessageItem] = []
        async with self.turns:
            agent_context = AgentContext[RequestContext](
                thread=thread, store=self.store, request_context=context
            )
            agent_input = await self.converter.to_agent_input(await self._history(thread, context))
            if self.services.budget.refresh_due():  # the agent's model depends on the budget
                await self.services.run_blocking(self.services.budget.status)
            # The run's task copies this context: its model calls are this conversation's.
            scope = call_scope.set((thread.id, self.workflow))
            try:
                agent = self.build_agent(self.services, context)
                result = Runner.run_streamed(
                    agent,
                    agent_input,
                    context=agent_context,
                    run_config=self.services.run_config(self.workflow),
                )
            finally:
                call_scope.reset(scope)
            first_word = True
            async for event in self._unique_message_ids(
                thread, context, self._run_apart(result, stream_agent_response(agent_context,
                                                                               result))
            ):
                if first_word and isinstance(event, ThreadItemUpdatedEvent) and isinstance(
                        event.update, AssistantMessageContentPartTextDelta):
                    first_word = False
                    metrics.first_word(audience, time.perf_counter() - started)
                if isinstance(event, ThreadItemDoneEvent) and isinstance(
                        event.item, AssistantMessageItem):
                    answers.append(event.item)
                yield event
            # Labelled by the agent's own tools only: a model's invented name must not grow
            # the label set.
            offered = {tool.name for tool in agent.tools}
            for item in result.new_items:
                if isinstance(item, ToolCallItem):
                    name = getattr(item.raw_item, "name", None)
                    metrics.tool_call(name if name in offered else "(unknown)")
        if answers:
            last = answers[-1]
            answer = AgentAnswer(text=message_text(last), sources=sum(
                len(part.annotations) for part in last.content))
            try:
                follow_up = await self._first_answer("after_agent_turn", turn=turn,
                                                     answer=answer)
            except ClientError as refusal:  # the response is streaming: an error event says it
                raise CustomStreamError(refusal.message) from refusal
            if follow_up is not None and _text(follow_up):
                yield ThreadItemDoneEvent(item=self._assistant_message(thread, follow_up, context))

    async def _run_apart(self, run: RunResultStreaming, events: AsyncIterator[ThreadStreamEvent]
                         ) -> AsyncIterator[ThreadStreamEvent]:
        """The agent run's events, consumed in a task of their own.

        A visitor who leaves mid-answer cancels the request's task. Cancelled inside
        `stream_agent_response`, the SDK's generator merge would drop the tasks it is waiting
        on (one forever on the context's event queue): "Task was destroyed but it is pending!"
        at the next garbage collection. Here the cancellation stops the run instead, and the
        task goes on consuming until the run has wound down, as the Agents SDK asks after
        `cancel()`."""
        queue: asyncio.Queue[ThreadStreamEvent | _RunEnded] = asyncio.Queue()

        async def consume() -> None:
            ended = _RunEnded()
            try:
                async for event in events:
                    queue.put_nowait(event)
            except Exception as exc:  # the request's to raise, if it is still there
                ended.error = exc
            queue.put_nowait(ended)

        task = asyncio.create_task(consume(), name="chat agent run")
        self._runs.add(task)  # a strong reference until it ends, whoever is still reading
        task.add_done_callback(self._runs.discard)
        try:
            while not isinstance(item := await queue.get(), _RunEnded):
                yield item
            if item.error is not None:
                raise item.error
        finally:
            if not task.done():  # the reader left early (a disconnect, a failure downstream)
                run.cancel()

    def _turn(self, thread: ThreadMetadata, message: UserMessageItem | None,
              context: RequestContext, new_thread: bool = False) -> ChatTurn:
        async def history(limit: int) -> list[tuple[str, str]]:
            page = await self.store.load_thread_items(thread.id, None, limit, "desc", context)
            roles = {UserMessageItem: "customer", AssistantMessageItem: "assistant"}
            return [(roles[type(item)], message_text(item)) for item in reversed(page.data)
                    if type(item) in roles]

        return ChatTurn(thread_id=thread.id, user_id=context.user_id,
                        text=message_text(message) if message else "", metadata=thread.metadata,
                        title=thread.title, audience=self.audience, history=history,
                        item_id=message.id if message else None, claims=dict(context.claims),
                        client_address=context.client_address, new_thread=new_thread)

    async def _first_answer(self, hook: str, **kwargs: Any) -> str | Reply | None:
        """The first plugin's answer to a turn hook (awaited), or None."""
        for _plugin, answer in self.services.plugins.each(hook, platform=self.services,
                                                          **kwargs):
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is not None:
                return answer if isinstance(answer, Reply) else str(answer)
        return None

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.store.add_feedback(thread_id, item_ids, feedback, context)

    async def _history(self, thread: ThreadMetadata, context: RequestContext) -> list[ThreadItem]:
        # The latest items only, oldest first: bounded prompt size on long conversations.
        page = await self.store.load_thread_items(thread.id, None, HISTORY_ITEMS, "desc", context)
        return list(reversed(page.data))

    def _assistant_message(
        self, thread: ThreadMetadata, reply: str | Reply, context: RequestContext
    ) -> AssistantMessageItem:
        item_id = self.store.generate_item_id("message", thread, context)
        if isinstance(reply, Reply):  # the marker travels as an entity annotation
            return marked_message(thread.id, item_id, reply.text, reply.marker)
        return AssistantMessageItem(
            id=item_id,
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[AssistantMessageContent(text=reply)],
        )

    async def _unique_message_ids(
        self,
        thread: ThreadMetadata,
        context: RequestContext,
        events: AsyncIterator[ThreadStreamEvent],
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Give each assistant message of this turn a fresh store id.

        ChatKit reuses the model's message ids as item ids, and Chat Completions providers send
        the same placeholder id for every message, so messages would overwrite each other in
        the store (chatkit-python #36). Ids of older items (a continued workflow) are kept.
        """
        fresh: dict[str, str] = {}

        def renamed(item: ThreadItem) -> ThreadItem:
            if isinstance(item, AssistantMessageItem) and item.id not in fresh:
                fresh[item.id] = self.store.generate_item_id("message", thread, context)
            if item.id in fresh:
                return item.model_copy(update={"id": fresh[item.id]})
            return item

        async for raw in events:
            event = safe_links(raw)
            if event is None:
                continue
            match event:
                case ThreadItemAddedEvent() | ThreadItemDoneEvent() | ThreadItemReplacedEvent():
                    event = event.model_copy(update={"item": renamed(event.item)})
                case ThreadItemUpdatedEvent() | ThreadItemRemovedEvent() if event.item_id in fresh:
                    event = event.model_copy(update={"item_id": fresh[event.item_id]})
            yield event
