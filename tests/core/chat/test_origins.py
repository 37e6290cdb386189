"""CSRF and origins: /chatkit takes JSON only; a cookie-authenticated state change needs an
allowed Origin; `[chat] allowed_origins` drives CORS for exactly those origins."""

from __future__ import annotations

import json

import pytest

from .conftest import SECRET, MakeApp
from .protocol import ChatClient, request, user_input

WIDGET_SITE = "https://www.acme.example"
CREATE = json.dumps(request("threads.create", input=user_input("I'd like to talk to a person")))


@pytest.fixture
def client(make_app: MakeApp) -> ChatClient:
    return ChatClient(make_app(identity_secret=SECRET, allowed_origins=[WIDGET_SITE])[0])


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""])
def test_chatkit_takes_json_only(client: ChatClient, content_type: str) -> None:
    client.list_threads()  # the visitor has a session cookie
    response = client.http.post("/chatkit", content=CREATE, headers={"Content-Type": content_type})
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["detail"]
    assert client.list_threads()["data"] == []  # nothing was created


def test_cookie_state_change_needs_an_allowed_origin(client: ChatClient) -> None:
    client.list_threads()
    json_headers = {"Content-Type": "application/json"}
    foreign = client.http.post("/chatkit", content=CREATE,
                               headers={**json_headers, "Origin": "https://evil.example"})
    assert foreign.status_code == 403, foreign.text
    assert "origin" in foreign.json()["detail"].lower()
    assert client.list_threads()["data"] == []
    for origin in (WIDGET_SITE, "http://testserver"):  # the allow-list, and this server itself
        allowed = client.http.post("/chatkit", content=CREATE,
                                   headers={**json_headers, "Origin": origin})
        assert allowed.status_code == 200, (origin, allowed.text)
    upload = client.http.post("/chatkit/attachments/atc_x/upload", content=b"x", headers={
        "Content-Type": "text/plain", "Origin": "https://evil.example"})
    assert upload.status_code == 403


def test_a_signed_token_is_not_ambient_so_any_origin_may_use_it(make_app: MakeApp) -> None:
    from deskpilot.core.chat.identity import sign_user_token

    app = make_app(identity_secret=SECRET, allowed_origins=[WIDGET_SITE])[0]
    client = ChatClient(app, token=sign_user_token(SECRET, "u1", 600))
    response = client.http.post("/chatkit", content=CREATE, headers={
        **client.headers, "Content-Type": "application/json", "Origin": "https://app.other"})
    assert response.status_code == 200, response.text


def test_cors_for_exactly_the_allowed_origins(client: ChatClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,authorization"}
    allowed = client.http.options("/chatkit", headers={**preflight, "Origin": WIDGET_SITE})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == WIDGET_SITE
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = client.http.options("/chatkit", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    answer = client.http.post("/chatkit", content=json.dumps(request("threads.list")),
                              headers={"Content-Type": "application/json", "Origin": WIDGET_SITE})
    assert answer.headers["access-control-allow-origin"] == WIDGET_SITE
    # Not the admin API: CORS is the chat's only.
    admin = client.http.options("/v1/search", headers={**preflight, "Origin": WIDGET_SITE})
    assert "access-control-allow-origin" not in admin.headers
