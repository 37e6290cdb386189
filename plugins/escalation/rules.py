"""`[[escalation.rules]]`: when to hand over without the customer asking.

A rule holds when any of its conditions does: triage predicts a listed category or priority, the
message contains a listed keyword or matches a pattern, the signed token carries a listed
attribute value, or the agent's last N answers in a row cited no source. Rules are tried in
the order written; the first that holds names the handoff (`name`, `reason`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import deskpilot

from .settings import Rule

#: Thread metadata key: answers in a row without a source.
STREAK = "low_confidence_streak"


def _keyword(text: str, keyword: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", text, re.IGNORECASE) is not None


def _attribute(claims: Mapping[str, Any], wanted: dict[str, list[str]]) -> bool:
    for key, values in wanted.items():
        value = claims.get(key)
        have = value if isinstance(value, list) else [value]
        if any(str(v).lower() == str(w).lower() for v in have if v is not None for w in values):
            return True
    return False


def message_rule(rules: list[Rule], text: str, claims: Mapping[str, Any],
                 triage: dict[str, Any] | None) -> Rule | None:
    """The first rule a customer's message sets off (before the agent answers), if any."""
    for rule in rules:
        if triage and (
                str(triage.get("category") or "").lower() in {c.lower() for c in rule.categories}
                or str(triage.get("priority") or "").lower()
                in {p.lower() for p in rule.priorities}):
            return rule
        if any(_keyword(text, k) for k in rule.keywords):
            return rule
        if any(re.search(p, text, re.IGNORECASE) for p in rule.patterns):
            return rule
        if rule.attributes and _attribute(claims, rule.attributes):
            return rule
    return None


def needs_triage(rules: list[Rule]) -> bool:
    return any(rule.categories or rule.priorities for rule in rules)


def count_answer(metadata: dict[str, Any], answer: deskpilot.AgentAnswer) -> int:
    """Keep the streak of answers without a source in the thread's metadata; the new count."""
    streak = int(metadata.get(STREAK, 0)) + 1 if answer.sources == 0 else 0
    metadata[STREAK] = streak
    return streak


def streak_rule(rules: list[Rule], streak: int) -> Rule | None:
    for rule in rules:
        if rule.low_confidence_answers is not None and streak >= rule.low_confidence_answers:
            return rule
    return None
