"""The platform a simulated conversation runs on: the real one, with what a replay must not do
or see taken out, and what the report needs recorded.

- **No leakage**: every search leaves out the passages that come from the ticket being replayed
  (`SearchFilter.exclude_origins`: the ticket itself and any answer snippet distilled from it),
  and triage learns only from the other fold of the replayed tickets (`HeldOutTickets`).
- **No write-backs**: the helpdesk connectors are `SimulatedHelpdesk`s, which keep what a
  handoff would have sent instead of opening a ticket.
- **Recorded**: the tools the agent called (name, arguments, output) and the model's tokens
  (as the metered model reports them; not into the budget).

Conversations run one at a time, so the per-conversation state is plain attributes, reset by
`begin()`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from deskpilot._connector import Capability, Connector
from deskpilot._documents import EscalationRequest, SyncPage
from deskpilot._search import Passage, SearchFilter
from deskpilot._tools import ToolAudience
from deskpilot.core.services import Services

if TYPE_CHECKING:
    from collections.abc import Iterator

    from agents import FunctionTool

    from deskpilot.core.config import Settings
    from deskpilot.core.plugins import PluginHost


class SimulatedHelpdesk(Connector):
    """Stands in for a configured helpdesk while conversations are replayed: a handoff is kept
    (`escalations`), never sent; it has no knowledge of its own to sync."""

    type = "simulation"
    capabilities = frozenset({Capability.TICKETS})

    def __init__(self, name: str) -> None:
        super().__init__(name, Connector.Options())
        self.escalations: list[EscalationRequest] = []

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        yield SyncPage()

    def create_ticket(self, request: EscalationRequest) -> str:
        self.escalations.append(request)
        return f"simulated-{len(self.escalations)}"


_HEADER = re.compile(r"^(Reason|Rule): (.*)$", re.MULTILINE)


def handoff_of(request: EscalationRequest) -> dict[str, str | None]:
    """Why a conversation was handed over: the reason, and the `[[escalation.rules]]` rule
    that set it off (None when the customer asked or the agent decided), as the transcript's
    header says them."""
    header = request.transcript.split("\n\n", 1)[0]
    found = dict(_HEADER.findall(header))
    return {"reason": found.get("Reason"), "rule": found.get("Rule")}


@dataclass
class HeldOutTickets:
    """The platform's past tickets without some of them: what triage may learn from while those
    are replayed. Implements the `PastTickets` protocol."""

    inner: Any  # knowledge.past_tickets.TicketMemories
    held_out: frozenset[tuple[str, str]]  # (connector, ticket id)
    _digest: str = field(init=False)

    def __post_init__(self) -> None:
        self._digest = hashlib.sha256(
            "\n".join(sorted(f"{c}:{t}" for c, t in self.held_out)).encode()).hexdigest()[:16]

    @property
    def embedder(self) -> Any:
        return self.inner.embedder

    def fingerprint(self, connector: str | None) -> str:
        return f"{self.inner.fingerprint(connector)}-without-{self._digest}"

    def record(self, connector: str, ticket_id: str) -> Any:
        if (connector, ticket_id) in self.held_out:
            return None
        return self.inner.record(connector, ticket_id)

    def get(self, connector: str | None) -> Any:
        memory = self.inner.get(connector)
        keep = [i for i, r in enumerate(memory.records)
                if (r.connector, r.external_id) not in self.held_out]
        vectors = memory.vectors[keep] if len(keep) else np.zeros((0, memory.vectors.shape[-1]))
        return dataclasses.replace(memory, fingerprint=self.fingerprint(connector),
                                   records=[memory.records[i] for i in keep], vectors=vectors)


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    output: str


@dataclass
class Usage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class SimulationServices(Services):
    """`Services` for replays (see the module doc). `share(base)` makes it answer from `base`'s
    database, index and embedder, so a fold's platform builds nothing twice."""

    def __init__(self, settings: Settings, plugins: PluginHost | None = None) -> None:
        super().__init__(settings, plugins)
        self.exclude_origins: frozenset[str] = frozenset()
        self.tool_calls: list[ToolCall] = []
        self.usage = Usage()
        self.helpdesks: dict[str, SimulatedHelpdesk] = {}

    def share(self, base: Services, held_out: frozenset[tuple[str, str]]) -> None:
        self.engine, self.embedder, self.index = base.engine, base.embedder, base.index
        self.past_tickets = HeldOutTickets(base.past_tickets, held_out)
        self.stand_in_for(base.settings.connectors)

    def stand_in_for(self, names: Any) -> None:
        """Every configured connector name (and `simulation`) becomes a SimulatedHelpdesk."""
        self.helpdesks = {name: SimulatedHelpdesk(name) for name in [*names, "simulation"]}
        for helpdesk in self.helpdesks.values():
            helpdesk.platform = self
        self.connectors = dict(self.helpdesks)

    def begin(self, exclude_origins: frozenset[str] = frozenset()) -> None:
        """A new conversation: what its searches leave out; the tool calls start empty."""
        self.exclude_origins = exclude_origins
        self.tool_calls = []

    def escalations(self) -> list[EscalationRequest]:
        return [e for helpdesk in self.helpdesks.values() for e in helpdesk.escalations]

    def search(self, query: str, k: int = 5, filter: SearchFilter | None = None,
               per_document: bool = False) -> list[Passage]:
        if self.exclude_origins:
            filter = dataclasses.replace(
                filter or SearchFilter(),
                exclude_origins=(filter.exclude_origins if filter else frozenset())
                | self.exclude_origins)
        return super().search(query, k, filter, per_document)

    def function_tools(self, audience: ToolAudience) -> list[FunctionTool]:
        return [self._recorded(tool) for tool in super().function_tools(audience)]

    def _recorded(self, tool: FunctionTool) -> FunctionTool:
        invoke = tool.on_invoke_tool

        async def recording(context: Any, arguments: str) -> Any:
            output = await invoke(context, arguments)
            try:
                parsed = json.loads(arguments or "{}")
            except ValueError:
                parsed = {"raw": arguments}
            self.tool_calls.append(ToolCall(tool.name, parsed if isinstance(parsed, dict)
                                            else {"value": parsed}, str(output)))
            return output

        return dataclasses.replace(tool, on_invoke_tool=recording)

    async def _record_usage(self, model: str, input_tokens: int, output_tokens: int) -> None:
        # Counted for the report, not recorded in the budget: a replay's spend is not this
        # month's, and must not switch the agent it measures to the offline model.
        self.usage.requests += 1
        self.usage.input_tokens += input_tokens
        self.usage.output_tokens += output_tokens
