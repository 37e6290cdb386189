"""How often one caller may do a thing: moving-window limits per kind of key (a session, a
client address), in this process's memory (the `limits` library). Over a limit is a
ClientError 429 naming it, with Retry-After."""

from __future__ import annotations

import math
import time
from typing import Any

from deskpilot._errors import ClientError


def check_rate(rate: str) -> str:
    """`rate` if `limits` reads it ("10/hour", "5 per 10 minutes"); ValueError otherwise: for
    settings validators."""
    from limits import parse

    try:
        parse(rate)
    except ValueError:
        raise ValueError(f"{rate!r} is not a rate like \"10/hour\" or \"5 per 10 minutes\""
                         ) from None
    return rate


class RateLimits:
    """`RateLimits("handoffs", session="3/hour", address="20/hour")`, then
    `admit(session=user_id, address=ip)` once per handoff."""

    def __init__(self, what: str, **rates: str) -> None:
        # Imported here: the facade is loaded by every CLI command, few of which limit rates.
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.what = what
        self.rates = {kind: parse(rate) for kind, rate in rates.items()}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def admit(self, **keys: str | None) -> None:
        """Count one for each key (a None key is not limited), or raise a 429 naming the limit
        it would break; nothing is counted then."""
        checks: list[tuple[Any, str, str]] = [
            (self.rates[kind], kind, key) for kind, key in keys.items() if key]
        for limit, kind, key in checks:
            if not self._limiter.test(limit, kind, key):
                reset = self._limiter.get_window_stats(limit, kind, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                window = f"{limit.multiples} {limit.GRANULARITY.name}"
                raise ClientError(429, f"too many {self.what} from this {kind}: at most "
                                       f"{limit.amount} per {window}; try again in {wait} s",
                                  {"Retry-After": str(wait)})
        for limit, kind, key in checks:
            self._limiter.hit(limit, kind, key)
