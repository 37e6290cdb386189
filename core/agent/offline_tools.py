"""The offline model's plugin-tool calls: a customer tool that declares example questions and
argument patterns (`AgentTool.examples`, `argument_patterns`) is called when a customer's
message matches one of its examples closely and every argument's pattern is found in it; when
the message matches but an argument is missing, the model asks for it, and the customer's next
message is read together with the first. Kept apart from the extractive answers (offline.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# How closely a message must match an example, on content words (argument values left out of
# both): most of the example's words in the message, and most of the message's words in the
# example. "Where is my order 12345?" matches "where's my order 98765 please"; "I want to cancel
# my order 12345" shares only "order" of its three words, and goes to the knowledge search.
MIN_EXAMPLE_COVERAGE = 0.6
MIN_MESSAGE_COVERAGE = 0.5


@dataclass(frozen=True)
class OfflineTrigger:
    """When the offline model calls one tool: its examples and its arguments' patterns."""

    tool: str
    examples: tuple[str, ...]
    patterns: dict[str, str]

    @classmethod
    def of(cls, tool_class: Any) -> OfflineTrigger | None:
        examples = tuple(getattr(tool_class, "examples", ()) or ())
        if not examples:
            return None
        return cls(tool_class.name, examples, dict(getattr(tool_class, "argument_patterns", {})))

    def _strip(self, text: str) -> str:
        for pattern in self.patterns.values():
            text = re.sub(pattern, " ", text)
        return text

    def match(self, message: str, terms: Any) -> float:
        """How closely `message` matches the closest example: 0 below the bars, else the sum
        of both coverages (for ranking several tools)."""
        wanted = terms(self._strip(message))
        best = 0.0
        for example in self.examples:
            example_terms = terms(self._strip(example))
            if not example_terms or not wanted:
                continue
            shared = len(wanted & example_terms)
            of_example, of_message = shared / len(example_terms), shared / len(wanted)
            if of_example >= MIN_EXAMPLE_COVERAGE and of_message >= MIN_MESSAGE_COVERAGE:
                best = max(best, of_example + of_message)
        return best

    def arguments(self, message: str) -> tuple[dict[str, str], list[str]]:
        """(the arguments found in `message`, the names of those not found)."""
        found, missing = {}, []
        for name, pattern in self.patterns.items():
            match = re.search(pattern, message)
            if match is None:
                missing.append(name)
            else:
                # A pattern with a group gives the group (r"order #?(\d+)"), else the match.
                found[name] = match.group(1) if match.lastindex else match.group(0)
        return found, missing


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: dict[str, str]


def question(tool: Any, argument: str) -> str:
    """What the model asks for a missing argument, from the argument's description."""
    schema = getattr(tool, "params_json_schema", None) or {}
    description = str((schema.get("properties") or {}).get(argument, {}).get("description")
                      or argument.replace("_", " ")).strip().rstrip(".")
    label = re.sub(r"^(the|a|an|your)\s+", "", description, flags=re.IGNORECASE)
    label = label[:1].lower() + label[1:]
    return f"I can look that up for you. What is your {label}?"


def plan(messages: Sequence[tuple[str, str]], triggers: Iterable[OfflineTrigger],
         tools: Sequence[Any], terms: Any) -> Call | str | None:
    """The call to make, the question to ask, or None (the knowledge search answers).
    `messages`: the conversation as (role, text), oldest first, ending with the customer's."""
    offered = {getattr(tool, "name", None): tool for tool in tools}
    usable = [t for t in triggers if t.tool in offered]
    if not usable or not messages:
        return None
    text = messages[-1][1]
    # The customer answering our question: read it with the message that raised it.
    if len(messages) >= 3 and messages[-2][0] == "assistant":
        asked = messages[-2][1]
        for trigger in usable:
            if any(asked == question(offered[trigger.tool], name) for name in trigger.patterns):
                text = f"{messages[-3][1]}\n{text}"
                break
    ranked = sorted(((t.match(text, terms), t) for t in usable), key=lambda x: -x[0])
    score, trigger = ranked[0]
    if score == 0.0:
        return None
    found, missing = trigger.arguments(text)
    if missing:
        return question(offered[trigger.tool], missing[0])
    return Call(trigger.tool, found)


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(t for t in (_get(part, "text") for part in content or [])
                    if isinstance(t, str))


def conversation(items: str | list[Any]) -> list[tuple[str, str]]:
    """The user and assistant messages of a model input, as (role, text), oldest first."""
    if isinstance(items, str):
        return [("user", items)]
    return [(role, _text(_get(item, "content")).strip()) for item in items
            if (role := _get(item, "role")) in ("user", "assistant")]


def called_tool(items: str | list[Any], call_id: Any) -> str | None:
    """The name of the function call `call_id` in a model input."""
    if isinstance(items, str):
        return None
    for item in items:
        if _get(item, "type") == "function_call" and _get(item, "call_id") == call_id:
            return _get(item, "name")
    return None


def reply_text(output: Any) -> str:
    """What the offline model says with a plugin tool's result: its text, or a JSON object's
    `message` (else its fields, one per line)."""
    text = str(output)
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        if isinstance(data.get("message"), str):
            return data["message"]
        return "\n".join(f"{key.replace('_', ' ')}: {value}" for key, value in data.items())
    return text
