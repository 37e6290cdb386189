"""One simulated conversation: customer turns sent to the real chat server in-process (the
ChatKit protocol, as the widget sends them), so the customer agent, its tools, the handoff and
`[[escalation.rules]]` all run as in production. What each turn did is read back from the
server's stream and from `SimulationServices`' records."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from deskpilot._chat import Reply, RequestContext

if TYPE_CHECKING:
    from deskpilot.core.chat.runtime import ChatRuntime
    from deskpilot.core.simulation.platform import SimulationServices

# A signed-in customer: a handoff goes straight to the (simulated) helpdesk instead of first
# asking an anonymous visitor for an email address.
CUSTOMER_CLAIMS = {"name": "Simulated customer"}


@dataclass
class TurnResult:
    said: str
    reply: str = ""  # every assistant message of the turn, one per line
    cited_urls: list[str] = field(default_factory=list)
    cited_documents: list[str] = field(default_factory=list)  # "source/document_id"
    handed_over: bool = False
    handoff_reason: str | None = None
    handoff_rule: str | None = None
    tools: list[str] = field(default_factory=list)
    # The best search score among the passages the turn's searches returned (0: none).
    confidence: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def sse_events(body: str) -> list[dict[str, Any]]:
    """The JSON of every `data:` frame in a Server-Sent Events body (the chat's stream)."""
    events = []
    for frame in body.split("\n\n"):
        data = [line[5:].strip() for line in frame.splitlines() if line.startswith("data:")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def _handoff_marker(part: dict[str, Any]) -> bool:
    return any((Reply.marker_in(a) or {}).get("event") == Reply.HANDOFF
               for a in part.get("annotations") or [])


class Conversation:
    """A thread on `runtime`'s server, one customer's; `say()` sends a turn."""

    def __init__(self, runtime: ChatRuntime, services: SimulationServices, customer: str) -> None:
        self.runtime = runtime
        self.services = services
        self.context = RequestContext(user_id=f"user:{customer}", claims=dict(CUSTOMER_CLAIMS),
                                      verified=True)
        self.thread_id: str | None = None

    async def say(self, text: str) -> TurnResult:
        from deskpilot.core.chat.server import REQUEST

        content = {"content": [{"type": "input_text", "text": text}], "attachments": [],
                   "inference_options": {}}
        if self.thread_id is None:
            body = {"type": "threads.create", "params": {"input": content}}
        else:
            body = {"type": "threads.add_user_message",
                    "params": {"thread_id": self.thread_id, "input": content}}
        services = self.services
        calls_before, handoffs_before = len(services.tool_calls), len(services.escalations())
        result = await self.runtime.server.process_request(REQUEST.validate_python(body),
                                                           self.context)
        body = b"".join([chunk async for chunk in result])  # type: ignore[union-attr]
        events = sse_events(body.decode("utf-8"))
        turn = TurnResult(said=text)
        replies: list[str] = []
        for event in events:
            if event.get("type") == "thread.created":
                self.thread_id = event["thread"]["id"]
            if event.get("type") != "thread.item.done":
                continue
            item = event["item"]
            if item.get("type") != "assistant_message":
                continue
            for part in item.get("content") or []:
                replies.append(part.get("text", ""))
                turn.handed_over |= _handoff_marker(part)
                for annotation in part.get("annotations") or []:
                    url = (annotation.get("source") or {}).get("url")
                    if url and url not in turn.cited_urls:
                        turn.cited_urls.append(url)
        turn.reply = "\n".join(r for r in replies if r)
        calls = services.tool_calls[calls_before:]
        turn.tools = [call.name for call in calls]
        passages = [p for call in calls for p in _passages(call.output)]
        # The offline rule's own measure (AnswerRule): the top fused score less the knowledge
        # base's λ, the least its cosine can be, so one threshold means the same on any corpus.
        best = max((float(p.get("score", 0)) for p in passages), default=0.0)
        lexical = services.searcher.lexical_weight() if passages else 0.0
        turn.confidence = round(max(0.0, best - lexical), 4)
        by_url = {p.get("url"): f"{p['source']}/{p['document_id']}" for p in passages
                  if p.get("url")}
        turn.cited_documents = [by_url[u] for u in turn.cited_urls if u in by_url]
        escalations = services.escalations()[handoffs_before:]
        if escalations:
            from deskpilot.core.simulation.platform import handoff_of

            turn.handed_over = True
            why = handoff_of(escalations[-1])
            turn.handoff_reason, turn.handoff_rule = why["reason"], why["rule"]
        return turn


def _passages(output: str) -> list[dict[str, Any]]:
    try:
        found = json.loads(output)["passages"]
    except (TypeError, ValueError, KeyError):
        return []
    return [p for p in found if isinstance(p, dict) and "document_id" in p]
