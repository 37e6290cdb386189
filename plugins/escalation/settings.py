"""`[escalation]`: where handed-over conversations go, when to hand over without being asked
(`[[escalation.rules]]`), when people are there (`hours`), and the relay of their replies."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

import deskpilot

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")


class Rule(deskpilot.Options):
    """Hand over at once when any of the rule's conditions holds. `reason` is what the
    transcript and the ticket say, and what a visitor writing in its language reads before
    the hand-over's message; `reasons` gives it in other languages ({de = "…"}). A visitor
    whose language has none reads the hand-over's message alone, never a reason in another
    language. Nothing else of the rule is shown."""

    name: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    reasons: dict[str, str] = {}
    # Triage predicts one of these (needs a triage plugin; compared case-insensitively).
    categories: list[str] = []
    priorities: list[str] = []
    # The customer's message contains one of these words or phrases (case-insensitive,
    # whole words), or matches one of these regular expressions (Python syntax).
    keywords: list[str] = []
    patterns: list[str] = []
    # After this many answers in a row that cite no source.
    low_confidence_answers: int | None = Field(default=None, ge=1)
    # The signed user token carries one of these values: {plan = ["enterprise"]}.
    attributes: dict[str, list[str]] = {}

    @field_validator("reasons")
    @classmethod
    def _by_language(cls, reasons: dict[str, str]) -> dict[str, str]:
        for language, text in reasons.items():
            if not _LANGUAGE_CODE.fullmatch(language):
                raise ValueError(f"reasons: {language!r} is not a language code "
                                 "(ISO 639-1, like \"de\")")
            if not text.strip():
                raise ValueError(f"reasons: the {language!r} reason is empty")
        return reasons

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}"
                                 ) from None
        return patterns

    @field_validator("attributes", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        # `plan = "enterprise"` is as good as `plan = ["enterprise"]`.
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _has_a_condition(self) -> Self:
        if not (self.categories or self.priorities or self.keywords or self.patterns
                or self.low_confidence_answers or self.attributes):
            raise ValueError(f"rule {self.name!r} has no condition: set categories, priorities,"
                             " keywords, patterns, low_confidence_answers or attributes")
        return self


class Hours(deskpilot.Options):
    """When people answer: `days` from `start` to `end` (24-hour "HH:MM") in `timezone`."""

    timezone: str = "UTC"
    days: list[str] = list(DAYS[:5])
    start: time = time(9)
    end: time = time(17)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (an IANA name, e.g. Europe/Paris)"
                             ) from None
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [day.lower()[:3] for day in value]
        if unknown := [d for d, day in zip(value, days, strict=True) if day not in DAYS]:
            raise ValueError(f"unknown day(s) {unknown}: use {', '.join(DAYS)}")
        if not days:
            raise ValueError("days is empty: list the days people answer")
        return days

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self

    def is_open(self, when: datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.timezone))
        return (DAYS[local.weekday()] in self.days
                and self.start <= local.time().replace(tzinfo=None) < self.end)

    def next_opening(self, when: datetime) -> datetime:
        """The next moment people are there (in the configured timezone), from `when`."""
        local = when.astimezone(ZoneInfo(self.timezone))
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            opening = datetime.combine(day, self.start, ZoneInfo(self.timezone))
            if DAYS[day.weekday()] in self.days and (
                    opening > local or (offset == 0 and self.is_open(local))):
                return opening
        raise AssertionError("days is never empty")  # the validator makes sure


class EscalationSettings(deskpilot.Options):
    # The connector that receives escalated conversations as tickets. Unset: the first
    # configured connector that can create tickets.
    connector: str | None = None
    # Ask an anonymous visitor for an email address before handing over, so the person can
    # also answer by email (the visitor may say "skip").
    ask_email: bool = True
    # How often the escalated tickets are read for replies, for a helpdesk whose webhooks are
    # not set up (seconds; 0: webhooks only).
    relay_poll_seconds: float = Field(default=60, ge=0)
    rules: list[Rule] = []
    # Unset: people are always there.
    hours: Hours | None = None
    # Handoffs (each a new helpdesk ticket) one session / one client address may start,
    # "N/hour", "N per 10 minutes", …; more is a 429 naming the limit. Counted per server
    # process. A conversation is one ticket at most whatever these say.
    handoffs_per_session: str = "3/hour"
    handoffs_per_address: str = "20/hour"

    @field_validator("handoffs_per_session", "handoffs_per_address")
    @classmethod
    def _rate(cls, rate: str) -> str:
        return deskpilot.check_rate(rate)
