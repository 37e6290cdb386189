"""`@deskpilot.tool`: an async function becomes an `AgentTool`, its first parameter the run
context (`ToolCall`: who is asking, whether that is verified, the platform).

    @deskpilot.tool(audience=deskpilot.ToolAudience.CUSTOMER,
                    examples=["Where is my order 12345?"], arguments={"order_id": r"\\b\\d{5,}\\b"})
    async def order_status(call: deskpilot.ToolCall, order_id: str) -> str:
        \"\"\"Where an order is.

        Args:
            order_id: The order number.
        \"\"\"

The tool's name is the function's; its description and argument descriptions come from the
docstring, its JSON schema from the other parameters' annotations (the Agents SDK reads them).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from deskpilot._tools import AgentTool, ToolAudience

if TYPE_CHECKING:
    from deskpilot._platform import Platform


@dataclass(frozen=True)
class ToolCall:
    """The run context of one call of a `@deskpilot.tool` function."""

    #: The tool's platform: for a CUSTOMER tool the customer view (public search only).
    platform: Platform
    #: Who is asking: "user:<id>" (the host site's signed token), "anon:<session>" (an anonymous
    #: visitor), "staff:…" (the copilot, behind the admin token); "" outside a chat.
    user_id: str = ""
    #: True when the caller's identity was proven (a signed user token, the admin token); never
    #: act on an anonymous visitor's claim to be someone (e.g. look up "my" orders).
    verified: bool = False
    #: What the signed user token says besides the id (`email`, `name`, …); {} when anonymous.
    claims: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: The conversation's id, when the call is part of a chat.
    thread_id: str | None = None
    #: The ChatKit agent context (`stream(event)` for progress), None outside a chat.
    chat: Any = None

    async def progress(self, text: str) -> None:
        """Show the customer a progress line while the tool works (no-op outside a chat)."""
        if self.chat is None or not hasattr(self.chat, "stream"):
            return
        from chatkit.types import ProgressUpdateEvent

        await self.chat.stream(ProgressUpdateEvent(text=text))


ToolFunction = Callable[..., Awaitable[str]]


def tool_call(platform: Platform, context: Any) -> ToolCall:
    """The ToolCall of an agents run context (`RunContextWrapper.context`)."""
    request = getattr(context, "request_context", None)
    thread = getattr(context, "thread", None)
    return ToolCall(platform=platform, user_id=getattr(request, "user_id", ""),
                    verified=bool(getattr(request, "verified", False)),
                    claims=dict(getattr(request, "claims", None) or {}),
                    thread_id=getattr(thread, "id", None), chat=context)


class FunctionAgentTool(AgentTool):
    """An AgentTool made by `@deskpilot.tool` (the class attributes are set there)."""

    fn: ClassVar[ToolFunction]

    def function_tool(self) -> Any:
        from agents import RunContextWrapper, function_tool

        fn = type(self).fn
        hints = typing.get_type_hints(fn)  # resolved in the author's module
        params = list(inspect.signature(fn).parameters.values())
        platform = self.platform

        @functools.wraps(fn)
        async def invoke(ctx: RunContextWrapper[Any], /, *args: Any, **kwargs: Any) -> str:
            return await fn(tool_call(platform, ctx.context), *args, **kwargs)

        # What the SDK reads: the context first, then the function's own arguments.
        invoke.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                               annotation=RunContextWrapper[Any]), *params[1:]],
            return_annotation=hints.get("return", str))
        invoke.__annotations__ = {**{p.name: hints.get(p.name, Any) for p in params[1:]},
                                  "ctx": RunContextWrapper[Any], "return": hints.get("return", str)}
        return function_tool(invoke, name_override=self.name)


def tool(fn: ToolFunction | None = None, *, audience: ToolAudience = ToolAudience.CUSTOMER,
         name: str | None = None, for_staff: bool = True, examples: Sequence[str] = (),
         arguments: Mapping[str, str] | None = None) -> Any:
    """Make an `AgentTool` class of an async function taking a `ToolCall` first. `examples`
    and `arguments` (argument name → regular expression) let the offline model call it: when
    a customer's message matches an example closely and every argument's pattern is found in
    it (else it asks for the missing one)."""

    def make(fn: ToolFunction) -> type[FunctionAgentTool]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"@deskpilot.tool: {fn.__name__} must be `async def` (blocking work "
                            "goes through `await call.platform.run_blocking(...)`)")
        params = list(inspect.signature(fn).parameters)
        if not params:
            raise TypeError(f"@deskpilot.tool: {fn.__name__} must take the ToolCall first")
        unknown = sorted(set(arguments or {}) - set(params[1:]))
        if unknown:
            raise TypeError(f"@deskpilot.tool: arguments {unknown} are not parameters of "
                            f"{fn.__name__}")
        attrs = {"name": name or fn.__name__, "audience": audience, "for_staff": for_staff,
                 "fn": staticmethod(fn), "examples": tuple(examples),
                 "argument_patterns": dict(arguments or {}), "__doc__": fn.__doc__,
                 "__module__": fn.__module__, "__qualname__": fn.__qualname__}
        return type(fn.__name__, (FunctionAgentTool,), attrs)

    return make(fn) if fn is not None else make
