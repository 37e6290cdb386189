"""Outbound HTTP policy, in one place: timeouts, retries, rate limits and log redaction.

Every connector builds its client with `make_client`. A request is retried when the server says
"not now" (429) or failed (5xx, connection errors), waiting as long as the server asks
(`Retry-After`, `ratelimit-reset`, `X-RateLimit-Reset`) or else backing off exponentially.
429 means the request was refused before it was processed, so any method may be retried; a 5xx
or a dropped connection may have happened after the server acted, so those are retried only for
idempotent methods and for POSTs marked with `extensions=RETRY_SAFE` (searches, or writes sent
with an idempotency key).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Pass as `self.http.post(..., extensions=deskpilot.RETRY_SAFE)` for a POST the API documents
#: as safe to repeat (a search, a write with an idempotency key): it is retried like a GET.
_RETRY_SAFE_KEY = "deskpilot.retry_safe"
RETRY_SAFE: dict[str, Any] = {_RETRY_SAFE_KEY: True}
USER_AGENT = "deskpilot/0.1 (+https://github.com/deskpilot)"

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_SECRET_PARAMS = ("token", "key", "secret", "password", "signature")
# Reset headers larger than this are epoch timestamps (Intercom), smaller ones are seconds.
_EPOCH_THRESHOLD = 1_000_000_000


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to log: credentials replaced by `[redacted]`."""
    return {k: "[redacted]" if k.lower() in _SECRET_HEADERS else v for k, v in headers.items()}


def redact_url(url: httpx.URL) -> str:
    """The URL safe to log: no userinfo, secret-looking query values replaced."""
    params = [
        (k, "[redacted]" if any(s in k.lower() for s in _SECRET_PARAMS) else v)
        for k, v in url.params.multi_items()
    ]
    return str(url.copy_with(username=None, password=None, params=params or None))


def _parse_delay(value: str, now: float) -> float | None:
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:  # Retry-After may be an HTTP date
            return parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
    return number - now if number > _EPOCH_THRESHOLD else number


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, from the first header that says so, or None."""
    now = time.time() if now is None else now
    for name in ("retry-after", "ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"):
        if name in headers:
            delay = _parse_delay(headers[name], now)
            if delay is not None:
                return max(0.0, delay)
    return None


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport with the retry policy described in the module docstring."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_wait: float = 300.0,
    ) -> None:
        self.inner = inner
        self.max_retries = max_retries
        self.sleep = sleep
        self.backoff = backoff
        self.max_backoff = max_backoff
        # A server asking for longer than this is down for maintenance, not throttling:
        # give the caller the error instead of hanging a sync for an hour.
        self.max_wait = max_wait

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        asked = retry_after(response.headers) if response is not None else None
        if asked is not None:
            return asked
        return min(self.max_backoff, self.backoff * 2**attempt)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        repeatable = request.method in IDEMPOTENT_METHODS or bool(
            request.extensions.get(_RETRY_SAFE_KEY)
        )
        attempt = 0
        while True:
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError as exc:
                if not repeatable or attempt >= self.max_retries:
                    raise
                delay = self._delay(attempt, None)
                log.warning("%s %s failed (%s); retry %d in %.1fs", request.method,
                            redact_url(request.url), type(exc).__name__, attempt + 1, delay)
            else:
                status = response.status_code
                if (
                    status not in RETRY_STATUSES
                    or (status != 429 and not repeatable)
                    or attempt >= self.max_retries
                ):
                    return response
                delay = self._delay(attempt, response)
                if delay > self.max_wait:
                    return response
                response.read()
                response.close()
                log.warning("%s %s -> %d; retry %d in %.1fs", request.method,
                            redact_url(request.url), status, attempt + 1, delay)
            self.sleep(delay)
            attempt += 1

    def close(self) -> None:
        self.inner.close()


def _log_request(request: httpx.Request) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s headers=%s", request.method, redact_url(request.url),
                  redact_headers(request.headers))


def make_client(
    base_url: str,
    *,
    auth: httpx.Auth | tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout = 30.0,
    transport: httpx.BaseTransport | None = None,
    max_retries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Client:
    """An `httpx.Client` for one API: retries, timeouts, a User-Agent and redacted debug logs.

    `transport` is where tests plug an `httpx.MockTransport`; `sleep` lets them skip the waits.
    """
    return httpx.Client(
        base_url=base_url,
        auth=auth,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        timeout=timeout,
        transport=RetryTransport(
            transport or httpx.HTTPTransport(), max_retries=max_retries, sleep=sleep
        ),
        event_hooks={"request": [_log_request]},
    )
