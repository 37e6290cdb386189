"""How fast one visitor may start conversations: per session (the user id) and per client
address, each a moving window (the `limits` library). Every conversation can become one handoff
ticket at most (the escalation outbox is unique per thread), so this also bounds how many
tickets a flood of "talk to a person" requests can open. Counted per server process."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from deskpilot._errors import ClientError
from deskpilot.core.config import ChatSettings


class NewThreadLimits:
    def __init__(self, settings: ChatSettings) -> None:
        self.per_session = parse(settings.new_threads_per_session)
        self.per_address = parse(settings.new_threads_per_address)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def admit(self, user_id: str, address: str | None) -> None:
        """Count one new conversation, or raise a 429 naming the limit it would break."""
        checks: list[tuple[RateLimitItem, str, str]] = [
            (self.per_session, "session", user_id)]
        if address:
            checks.append((self.per_address, "address", address))
        for limit, kind, key in checks:
            if not self._limiter.test(limit, kind, key):
                reset = self._limiter.get_window_stats(limit, kind, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                window = f"{limit.multiples} {limit.GRANULARITY.name}"
                raise ClientError(429, f"too many new conversations from this {kind}: at most "
                                       f"{limit.amount} per {window}; try again in {wait} s",
                                  {"Retry-After": str(wait)})
        for limit, kind, key in checks:
            self._limiter.hit(limit, kind, key)
