"""Signed user tokens, anonymous session cookies, and who may chat at all."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from deskpilot.core.chat.identity import (
    IdentityError,
    IdentityResolver,
    load_session_key,
    sign_user_token,
    verify_user_token,
    verify_user_token_claims,
)
from deskpilot.core.config import ChatSettings

from .conftest import SECRET, MakeApp
from .protocol import ChatClient, request


def test_token_format_is_the_documented_one() -> None:
    token = sign_user_token(SECRET, "cust.42", ttl=60, now=1_000)
    payload = base64.urlsafe_b64encode(b"cust.42.1060").rstrip(b"=").decode()
    mac = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert token == f"{payload}.{mac}"
    assert verify_user_token(SECRET, token, now=1_059) == "cust.42"


@pytest.mark.parametrize("mangle, reason", [
    (lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"), "signature"),
    (lambda t: "x" + t, "signature"),
    (lambda t: t.split(".")[0], "signature"),
    (lambda t: "", "signature"),
    (lambda t: "ünïcode.ff", "signature"),
])
def test_forged_tokens_are_refused(mangle, reason: str) -> None:
    with pytest.raises(IdentityError, match=reason):
        verify_user_token(SECRET, mangle(sign_user_token(SECRET, "alice", 60)))


def test_expired_and_wrong_secret_tokens_are_refused() -> None:
    with pytest.raises(IdentityError, match="expired"):
        verify_user_token(SECRET, sign_user_token(SECRET, "alice", ttl=-1))
    with pytest.raises(IdentityError, match="signature"):
        verify_user_token(SECRET, sign_user_token("another secret", "alice", ttl=60))


def test_session_key_is_generated_once(tmp_path: Path) -> None:
    settings = ChatSettings()
    key = load_session_key(settings, tmp_path)
    assert len(key) == 32 and load_session_key(settings, tmp_path) == key
    assert (tmp_path / "session.key").stat().st_mode & 0o777 == 0o600
    # With an identity secret the key derives from it and no file is needed.
    derived = load_session_key(ChatSettings(identity_secret=SECRET), tmp_path / "other")
    assert derived != key and not (tmp_path / "other" / "session.key").exists()


def test_session_cookies_cannot_be_forged(tmp_path: Path) -> None:
    resolver = IdentityResolver(ChatSettings(), load_session_key(ChatSettings(), tmp_path))
    first = resolver.resolve(None, None)
    assert first.anonymous and first.new_session
    assert resolver.resolve(None, first.new_session).user_id == first.user_id
    session_id = first.user_id.removeprefix("anon:")
    for forged in (session_id, f"{session_id}.00", f"other.{first.new_session.split('.')[1]}",
                   "é.é"):
        again = resolver.resolve(None, forged)
        assert again.user_id != first.user_id and again.new_session


def test_signed_user_sees_their_threads_from_any_device(app) -> None:
    token = sign_user_token(SECRET, "customer-7", ttl=3600)
    laptop = ChatClient(app, token=token)
    thread_id = laptop.create("from my laptop").thread_id
    assert "set-cookie" not in laptop.create("again").response.headers
    phone = ChatClient(app)
    phone.http.headers["X-Deskpilot-User-Token"] = sign_user_token(SECRET, "customer-7", 60)
    assert thread_id in [t["id"] for t in phone.list_threads()["data"]]
    # An anonymous visitor, or another customer, does not.
    stranger = ChatClient(app, token=sign_user_token(SECRET, "customer-8", ttl=3600))
    assert stranger.post(request("threads.get_by_id", thread_id=thread_id)).status_code == 404
    assert ChatClient(app).list_threads()["data"] == []


def test_invalid_or_expired_token_is_401_even_when_anonymous_is_allowed(app) -> None:
    for token in (sign_user_token(SECRET, "alice", ttl=-10),
                  sign_user_token("forged", "alice", ttl=60), "garbage"):
        response = ChatClient(app, token=token).post(request("threads.list"))
        assert response.status_code == 401
        assert "token" in response.json()["detail"]


def test_anonymous_disabled_is_401_but_tokens_still_work(make_app: MakeApp) -> None:
    app, _ = make_app(allow_anonymous=False, identity_secret=SECRET)
    response = ChatClient(app).post(request("threads.list"))
    assert response.status_code == 401 and "sign-in required" in response.json()["detail"]
    token = sign_user_token(SECRET, "alice", ttl=60)
    assert ChatClient(app, token=token).list_threads()["data"] == []


def test_token_without_configured_secret_is_401(make_app: MakeApp) -> None:
    app, _ = make_app()
    response = ChatClient(app, token=sign_user_token(SECRET, "a", 60)).post(request("threads.list"))
    assert response.status_code == 401 and "identity_secret" in response.json()["detail"]


def test_anonymous_cookie_is_set_once_and_keeps_the_visitor(client: ChatClient) -> None:
    first = client.create("hello")
    assert "deskpilot_session" in first.response.headers["set-cookie"]
    second = client.add_message(first.thread_id, "again")
    assert second.response.status_code == 200 and "set-cookie" not in second.response.headers


def test_claims_travel_in_a_json_payload_and_are_signed() -> None:
    token = sign_user_token(SECRET, "cust.42", ttl=60, now=1_000,
                            claims={"email": "ana@example.com", "plan": "enterprise"})
    payload = base64.urlsafe_b64decode(token.split(".")[0] + "==")
    assert payload.startswith(b"{") and b'"sub":"cust.42"' in payload
    assert verify_user_token_claims(SECRET, token, now=1_059) == (
        "cust.42", {"email": "ana@example.com", "plan": "enterprise"})
    with pytest.raises(IdentityError, match="expired") as expired:
        verify_user_token_claims(SECRET, token, now=1_061)
    assert expired.value.expired
    forged = base64.urlsafe_b64encode(payload.replace(b"enterprise", b"free")).rstrip(b"=")
    with pytest.raises(IdentityError, match="signature"):
        verify_user_token_claims(SECRET, forged.decode() + "." + token.split(".")[1])


def test_an_expired_token_says_so_in_the_challenge(app) -> None:
    client = ChatClient(app, token=sign_user_token(SECRET, "cust.42", ttl=-1))
    response = client.post(request("threads.list"))
    assert response.status_code == 401
    assert response.json()["error"] == "user token expired"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    bad = ChatClient(app, token="nonsense.ff").post(request("threads.list"))
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
