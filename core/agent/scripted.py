"""A scripted stand-in for an LLM (`deskpilot.testkit.ScriptedModel`): it calls the tools it is
told to, one per turn, in order, then replies. Built on the offline model, so it runs in the same
Runner and streams the same events. Given several replies it answers with the next one each time
(round robin): a model whose answers vary between runs, as an LLM's do (pass^k)."""

from __future__ import annotations

import json
from typing import Any

from openai.types.responses import ResponseFunctionToolCall

from deskpilot.core.agent.offline import OfflineModel, Output, _new_id, item_field


class ScriptedModel(OfflineModel):
    def __init__(self, calls: list[tuple[str, dict[str, Any]]],
                 reply: str | list[str] | None) -> None:
        super().__init__()
        self.calls = calls
        self.replies = [reply] if isinstance(reply, str) else list(reply or [])
        self.replied = 0  # replies given so far: which one comes next

    def _turn(self, input: str | list[Any], tools: list[Any]) -> list[Output]:
        items = input if isinstance(input, list) else []
        # This turn's place in the script: the calls since the customer's last message.
        since_user = items[max((i for i, item in enumerate(items)
                                if item_field(item, "role") == "user"), default=-1) + 1:]
        outputs = [str(item_field(item, "output")) for item in since_user
                   if item_field(item, "type") == "function_call_output"]
        if len(outputs) < len(self.calls):
            name, arguments = self.calls[len(outputs)]
            offered = {getattr(tool, "name", None) for tool in tools}
            if name not in offered:
                return [self._message(f"[scripted model] no tool named {name!r} is offered "
                                      f"(tools: {', '.join(sorted(map(str, offered)))})", [])]
            return [ResponseFunctionToolCall(
                type="function_call", id=_new_id("fc"), call_id=_new_id("call"), name=name,
                arguments=json.dumps(arguments), status="completed")]
        if not self.replies:
            return [self._message("\n".join(outputs), [])]
        reply = self.replies[self.replied % len(self.replies)]
        self.replied += 1
        return [self._message(reply, [])]
