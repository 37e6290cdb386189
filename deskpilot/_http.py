"""Outbound HTTP policy, in one place: timeouts, retries, rate limits and log redaction.

Every connector builds its client with `make_client`. A request is retried when the server says
"not now" (429) or failed (5xx, connection errors), waiting as long as the server asks
(`Retry-After`, `ratelimit-reset`, `X-RateLimit-Reset`) or else backing off exponentially.
429 means the request was refused before it was processed, so any method may be retried; a 5xx
or a dropped connection may have happened after the server acted, so those are retried only for
idempotent methods and for POSTs marked with `extensions=RETRY_SAFE` (searches, or writes sent
with an idempotency key), never for requests marked `extensions=NOT_IDEMPOTENT` (a PUT that
appends a comment: repeating it adds it twice). The body is read inside the retry loop, so a
connection dropped mid-body is retried like one refused outright; a 2xx body that is not the
JSON asked for (truncated, garbled, a proxy's HTML page) is retried `BODY_RETRIES` times.

`read_json` turns the final answer into data or a `HelpdeskError`: one line naming the URL
(credentials removed), what was wrong and what to do.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from deskpilot._errors import HelpdeskError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Pass as `self.http.post(..., extensions=deskpilot.RETRY_SAFE)` for a POST the API documents
#: as safe to repeat (a search, a write with an idempotency key): it is retried like a GET.
_RETRY_SAFE_KEY = "deskpilot.retry_safe"
RETRY_SAFE: dict[str, Any] = {_RETRY_SAFE_KEY: True}
#: The opposite, for a PUT or DELETE that is not idempotent after all: only a 429 (refused before
#: it was processed) is retried; after a 5xx or a dropped connection the caller decides.
NOT_IDEMPOTENT: dict[str, Any] = {_RETRY_SAFE_KEY: False}
USER_AGENT = "deskpilot/0.1 (+https://github.com/deskpilot)"

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_SECRET_PARAMS = ("token", "key", "secret", "password", "signature")
#: Extra attempts for a 2xx answer whose body is not the JSON asked for.
BODY_RETRIES = 2
#: Longest server-asked wait the client sleeps through (see RetryTransport.max_wait).
DEFAULT_MAX_WAIT = 300.0
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
        max_wait: float = DEFAULT_MAX_WAIT,
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
        repeatable = bool(request.extensions.get(_RETRY_SAFE_KEY,
                                                 request.method in IDEMPOTENT_METHODS))
        attempt = 0
        body_attempts = 0
        while True:
            try:
                response = self.inner.handle_request(request)
                try:  # here, not after returning: a drop mid-body must reach the except below
                    response.read()
                finally:
                    response.close()
            except httpx.TransportError as exc:
                if not repeatable or attempt >= self.max_retries:
                    raise
                delay = self._delay(attempt, None)
                log.warning("%s %s failed (%s); retry %d in %.1fs", request.method,
                            redact_url(request.url), type(exc).__name__, attempt + 1, delay)
            else:
                status = response.status_code
                if status in RETRY_STATUSES:
                    if (status != 429 and not repeatable) or attempt >= self.max_retries:
                        return response
                    delay = self._delay(attempt, response)
                    if delay > self.max_wait:
                        return response
                    log.warning("%s %s -> %d; retry %d in %.1fs", request.method,
                                redact_url(request.url), status, attempt + 1, delay)
                else:
                    problem = (_body_problem(response) if repeatable and _asks_json(request)
                               else None)
                    if problem is None or body_attempts >= BODY_RETRIES:
                        return response
                    delay = self._delay(body_attempts, None)
                    body_attempts += 1
                    log.warning("%s %s: the answer was %s; retry %d in %.1fs", request.method,
                                redact_url(request.url), problem, body_attempts, delay)
                    self.sleep(delay)
                    continue
            self.sleep(delay)
            attempt += 1

    def close(self) -> None:
        self.inner.close()


def _asks_json(request: httpx.Request) -> bool:
    return "json" in request.headers.get("accept", "")


def _body_problem(response: httpx.Response) -> str | None:
    """What is wrong with a successful answer that should be JSON, or None."""
    if not 200 <= response.status_code < 300:
        return None
    content_type = response.headers.get("content-type", "").lower()
    body = response.content
    if "html" in content_type or body.lstrip()[:1] == b"<":
        return f"an HTML page ({content_type or 'no Content-Type'}), not the API's JSON"
    if "json" not in content_type:
        return None  # not claimed as JSON: the caller decides
    if not body.strip():
        return "an empty body where JSON was expected"
    try:
        json.loads(body)
    except ValueError as exc:
        return f"not valid JSON (truncated or garbled: {exc})"
    return None


def _what_to_do(status: int, response: httpx.Response) -> str:
    if status in (401, 403):
        return "check the connector's credentials and what they are allowed to read"
    if status == 404:
        return "check the connector's base URL, and that the account has this feature"
    if status in (429, 503) and (asked := retry_after(response.headers)) is not None \
            and asked > DEFAULT_MAX_WAIT:
        return (f"the server asked to wait {asked:.0f} s, longer than the "
                f"{DEFAULT_MAX_WAIT:.0f} s Deskpilot waits; try again after that")
    if status == 429:
        return "rate limited after every retry; try again later"
    if status >= 500:
        return "the helpdesk is failing; try again later"
    return "the request was refused; check the connector's options"


def _detail(response: httpx.Response) -> str:
    """The server's own words about an error, on one short line."""
    try:
        data = response.json()
    except ValueError:
        text = response.text
        return "" if "<" in text[:200] else " ".join(text.split())[:160]
    return " ".join(json.dumps(data, ensure_ascii=False).split())[:200]


def read_json(response: httpx.Response) -> Any:
    """The answer's JSON, or a HelpdeskError saying which URL failed, how, and what to do."""
    request = response.request
    url = redact_url(request.url)
    where = f"{request.method} {url}"
    status = response.status_code
    if status >= 400:
        detail = _detail(response)
        raise HelpdeskError(
            f"{where} answered {status} {response.reason_phrase}"
            + (f" ({detail})" if detail else "") + f"; {_what_to_do(status, response)}",
            url=url, status=status,
        )
    if problem := _body_problem(response):
        raise HelpdeskError(f"{where}: the answer was {problem}, also on retrying; check the "
                            "connector's base URL (a proxy?) and try again", url=url,
                            status=status)
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise HelpdeskError(f"{where}: the answer was not valid JSON ({exc}); try again",
                            url=url, status=status) from None


def connection_error(request: httpx.Request, exc: httpx.TransportError) -> HelpdeskError:
    """A call that never got a complete answer, after the retries."""
    url = redact_url(request.url)
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return HelpdeskError(f"{request.method} {url} got no complete answer "
                         f"({type(exc).__name__}: {reason}); check the network and the "
                         "connector's base URL, then try again", url=url)


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
