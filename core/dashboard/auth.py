"""Dashboard sign-in: the admin token (or the per-start token `serve` writes for the CLI),
sent as `Authorization: Bearer`, or given once to the login form, which sets a session cookie.

The cookie is `<expiry>.<nonce>.<hex HMAC-SHA256>`, keyed by a key derived from the token it
was made with, so changing `server.admin_token` signs every session out. It is HttpOnly and
SameSite=Strict (Secure over https). Forms carry a CSRF token, HMAC(key, nonce): a cookie
session's POST without the right one is refused (403). A bearer request needs none — a browser
never adds that header on its own. The login form carries one too, before there is a session:
a random token also set as a cookie only POST /admin/login receives (double submit), so another
site cannot sign a browser in with a token of its choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

from deskpilot._errors import ClientError

SESSION_COOKIE = "deskpilot_admin"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
LOGIN_COOKIE = "deskpilot_login"
LOGIN_PATH = "/admin/login"
LOGIN_SECONDS = 3600


class LoginRequired(ClientError):
    """No usable admin credentials: the dashboard answers with its login form (401)."""

    def __init__(self, message: str = "sign in with the admin token") -> None:
        super().__init__(401, message)


@dataclass(frozen=True)
class Operator:
    """Who is looking: signed in with a cookie session (`nonce`), or by bearer token."""

    key: bytes
    nonce: str | None  # None: a bearer request

    @property
    def csrf_token(self) -> str:
        return _mac(self.key, f"csrf:{self.nonce}") if self.nonce else ""

    def check_csrf(self, given: str | None) -> None:
        if self.nonce is None:
            return
        if not given or not hmac.compare_digest(given.encode(), self.csrf_token.encode()):
            raise ClientError(403, "the form's CSRF token is missing or wrong: reload the page "
                                   "and submit it again")


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def admin_tokens(request: Request) -> list[str]:
    """The tokens that open the dashboard: the configured admin token, the per-start one.
    403 when neither exists (the dashboard is off)."""
    token = request.app.state.services.settings.server.admin_token
    tokens = [token.get_secret_value()] if token is not None else []
    tokens += [t for t in [getattr(request.app.state, "server_token", None)] if t]
    if not tokens:
        raise ClientError(403, "the dashboard is disabled: set server.admin_token in the config")
    return tokens


def _key(token: str) -> bytes:
    return hmac.new(token.encode(), b"deskpilot dashboard session", hashlib.sha256).digest()


def matching_key(request: Request, given: str) -> bytes | None:
    for token in admin_tokens(request):
        if hmac.compare_digest(given.encode(), token.encode()):
            return _key(token)
    return None


async def require_operator(request: Request) -> Operator:
    """The operator, by bearer token or session cookie; LoginRequired otherwise."""
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and given:
        key = matching_key(request, given.strip())
        if key is None:
            raise LoginRequired("wrong admin token")
        return Operator(key, None)
    expiry, _, rest = (request.cookies.get(SESSION_COOKIE) or "").partition(".")
    nonce, _, signature = rest.partition(".")
    if expiry.isdigit() and int(expiry) > time.time() and nonce and signature:
        for token in admin_tokens(request):
            key = _key(token)
            if hmac.compare_digest(_mac(key, f"{expiry}.{nonce}").encode(), signature.encode()):
                return Operator(key, nonce)
    admin_tokens(request)  # 403 rather than a login form when there is nothing to sign in with
    raise LoginRequired()


def start_session(response: Response, request: Request, key: bytes) -> None:
    expiry, nonce = str(int(time.time()) + SESSION_SECONDS), secrets.token_urlsafe(18)
    response.set_cookie(SESSION_COOKIE, f"{expiry}.{nonce}.{_mac(key, f'{expiry}.{nonce}')}",
                        max_age=SESSION_SECONDS, path="/admin", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def set_login_csrf(response: Response, request: Request, token: str) -> None:
    """The login form's token (`secrets.token_urlsafe`), as the login cookie."""
    response.set_cookie(LOGIN_COOKIE, token, max_age=LOGIN_SECONDS, path=LOGIN_PATH,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")


def check_login_csrf(request: Request, given: object) -> None:
    """403 unless the login form's token is the login cookie's."""
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not (expected and isinstance(given, str)
            and hmac.compare_digest(given.encode(), expected.encode())):
        raise ClientError(403, "the sign-in form's CSRF token is missing or wrong: reload the "
                               "sign-in page and submit it again")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/admin", httponly=True, samesite="strict")
