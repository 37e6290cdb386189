"""The outbound HTTP policy: what is retried, how long it waits, what is never logged."""

from __future__ import annotations

import logging
import time
from email.utils import formatdate

import httpx
import pytest

from deskpilot import RETRY_SAFE
from deskpilot._errors import HelpdeskError
from deskpilot._http import (
    BODY_RETRIES,
    NOT_IDEMPOTENT,
    make_client,
    read_json,
    redact_url,
    retry_after,
)

NOW = 1_700_000_000


def scripted(*responses: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[str]]:
    """A transport answering with `responses` in turn; records each request's method."""
    queue, seen = list(responses), []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handler), seen


def client(transport: httpx.MockTransport, slept: list[float], **kw: object) -> httpx.Client:
    return make_client("https://api.test", transport=transport, sleep=slept.append, **kw)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Retry-After": "12"}, 12.0),
    ({"Retry-After": formatdate(NOW + 30, usegmt=True)}, 30.0),
    ({"ratelimit-reset": "9"}, 9.0),  # Zendesk
    ({"X-RateLimit-Reset": str(NOW + 45)}, 45.0),  # Intercom: an epoch
    ({"Retry-After": "soon"}, None),
    ({}, None),
])
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(httpx.Headers(headers), now=NOW) == expected


def test_429_is_retried_after_the_wait_the_server_asks_for_even_on_post() -> None:
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "3"}),
                               httpx.Response(201, json={}))
    slept: list[float] = []
    assert client(transport, slept).post("/things", json={}).status_code == 201
    assert seen == ["POST", "POST"] and slept == [3.0]


def test_5xx_backs_off_exponentially_for_get() -> None:
    transport, seen = scripted(*[httpx.Response(503)] * 3, httpx.Response(200))
    slept: list[float] = []
    assert client(transport, slept).get("/x").status_code == 200
    assert slept == [0.5, 1.0, 2.0]


def test_5xx_on_a_plain_post_is_not_retried_but_a_retry_safe_post_is() -> None:
    transport, seen = scripted(httpx.Response(500), httpx.Response(500), httpx.Response(200))
    slept: list[float] = []
    http = client(transport, slept)
    assert http.post("/create", json={}).status_code == 500
    assert http.post("/search", json={}, extensions=RETRY_SAFE).status_code == 200
    assert seen == ["POST", "POST", "POST"] and slept == [0.5]


def test_a_put_marked_not_idempotent_is_retried_only_when_refused() -> None:
    """A PUT that appends a comment: a 503 or a drop may come after the write, a 429 before."""
    transport, seen = scripted(httpx.Response(503), httpx.RemoteProtocolError("peer closed"),
                               httpx.Response(429, headers={"Retry-After": "1"}),
                               httpx.Response(200, json={}))
    slept: list[float] = []
    http = client(transport, slept)
    assert http.put("/t.json", json={}, extensions=NOT_IDEMPOTENT).status_code == 503
    with pytest.raises(httpx.RemoteProtocolError):
        http.put("/t.json", json={}, extensions=NOT_IDEMPOTENT)
    assert http.put("/t.json", json={}, extensions=NOT_IDEMPOTENT).status_code == 200
    assert seen == ["PUT"] * 4 and slept == [1.0]


def test_gives_up_after_max_retries_and_returns_the_last_response() -> None:
    transport, seen = scripted(*[httpx.Response(502)] * 3)
    slept: list[float] = []
    assert client(transport, slept, max_retries=2).get("/x").status_code == 502
    assert len(seen) == 3 and len(slept) == 2


def test_a_wait_longer_than_max_wait_is_returned_not_slept() -> None:
    transport, _ = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    slept: list[float] = []
    assert client(transport, slept).get("/x").status_code == 429 and slept == []


def test_connection_errors_are_retried_for_idempotent_requests_only() -> None:
    transport, _ = scripted(httpx.ConnectError("refused"), httpx.Response(200))
    assert client(transport, []).get("/x").status_code == 200
    transport, _ = scripted(httpx.ConnectError("refused"), httpx.Response(200))
    with pytest.raises(httpx.ConnectError):
        client(transport, []).post("/x")


def test_credentials_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    transport, _ = scripted(httpx.Response(503), httpx.Response(200))
    http = make_client("https://api.test", headers={"Authorization": "Bearer s3cret"},
                       transport=transport, sleep=lambda _: None)
    with caplog.at_level(logging.DEBUG, logger="deskpilot._http"):
        http.get("/x", params={"api_key": "k3y", "page": "2"})
    assert "s3cret" not in caplog.text and "k3y" not in caplog.text
    assert "[redacted]" in caplog.text and "page=2" in caplog.text


def test_redact_url_drops_userinfo() -> None:
    assert redact_url(httpx.URL("https://u:pw@h.test/p?token=t&q=1")) == \
        "https://h.test/p?token=%5Bredacted%5D&q=1"


def test_default_sleep_is_real_time() -> None:
    assert make_client("https://api.test")._transport.sleep is time.sleep  # type: ignore[attr-defined]


class _DropsMidBody(httpx.SyncByteStream):
    """A body that ends early, as when the peer closes the connection mid-response."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield b'{"articles": [{"id": 1, "title": "Res'
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body")


def test_a_connection_dropped_mid_body_is_retried_for_get() -> None:
    transport, seen = scripted(httpx.Response(200, stream=_DropsMidBody()),
                               httpx.Response(200, json={"ok": True}))
    slept: list[float] = []
    assert client(transport, slept).get("/x").json() == {"ok": True}
    assert seen == ["GET", "GET"] and slept == [0.5]


def test_a_connection_dropped_mid_body_is_not_retried_for_a_plain_post() -> None:
    transport, seen = scripted(httpx.Response(200, stream=_DropsMidBody()),
                               httpx.Response(200, json={"ok": True}))
    with pytest.raises(httpx.RemoteProtocolError):
        client(transport, []).post("/create", json={})
    assert seen == ["POST"]


@pytest.mark.parametrize("bad", [
    httpx.Response(200, text='{"articles": [{"id": 1, "title": "Unterminated',
                   headers={"Content-Type": "application/json"}),
    httpx.Response(200, text="<html><body>Sign in to the proxy</body></html>",
                   headers={"Content-Type": "text/html"}),
])
def test_a_garbled_body_is_retried_then_passed_on(bad: httpx.Response) -> None:
    good = httpx.Response(200, json={"ok": True})
    transport, seen = scripted(bad, good)
    assert client(transport, []).get("/x").json() == {"ok": True}
    assert len(seen) == 2
    # Bounded: after the body retries the last (garbled) answer is the caller's to report.
    transport, seen = scripted(*[httpx.Response(200, text="<html>oops</html>",
                                                headers={"Content-Type": "text/html"})] * 9)
    assert client(transport, []).get("/x").status_code == 200
    assert len(seen) == 1 + BODY_RETRIES


def test_read_json_names_the_url_and_what_was_wrong() -> None:
    request = httpx.Request("GET", "https://u:pw@api.test/api/v2/things?api_token=t0k")
    truncated = httpx.Response(200, text='{"a": "unterminated', request=request,
                               headers={"Content-Type": "application/json"})
    with pytest.raises(HelpdeskError) as caught:
        read_json(truncated)
    message = caught.value.message
    assert "https://api.test/api/v2/things" in message and "t0k" not in message
    assert "pw" not in message and "not valid JSON" in message and "\n" not in message
    html = httpx.Response(200, text="<html>login</html>", request=request,
                          headers={"Content-Type": "text/html; charset=utf-8"})
    with pytest.raises(HelpdeskError, match="HTML page"):
        read_json(html)


def test_read_json_turns_error_statuses_into_one_line_with_what_to_do() -> None:
    request = httpx.Request("GET", "https://api.test/api/v2/help_center/articles")
    missing = httpx.Response(404, json={"error": "InvalidEndpoint",
                                        "description": "Not found"}, request=request)
    with pytest.raises(HelpdeskError) as caught:
        read_json(missing)
    error = caught.value
    assert (error.status, error.url, error.status_code) == (
        404, "https://api.test/api/v2/help_center/articles", 502)
    assert "404" in error.message and "InvalidEndpoint" in error.message
    assert "\n" not in error.message


def test_a_refused_long_wait_says_how_long_the_server_asked_for() -> None:
    transport, _ = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    response = client(transport, []).get("/x")
    with pytest.raises(HelpdeskError, match=r"asked to wait 3600 s, longer than the 300 s"):
        read_json(response)
