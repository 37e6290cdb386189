"""Who is chatting: a signed user token from the host site, or an anonymous session cookie.

Signed user token (the host site's server mints it for its logged-in user)::

    payload = base64url_nopad(utf8(user_id + "." + str(expiry_epoch_seconds)))
    token   = payload + "." + hex(HMAC_SHA256(key=utf8(chat.identity_secret), msg=ascii(payload)))

`user_id` may itself contain dots (the last dot separates the expiry); `expiry_epoch_seconds` is
an integer Unix time after which the token is refused. A token may also say more about the user
(the requester of a handoff's ticket, attributes escalation rules read): then the payload is a
JSON object instead, `base64url_nopad(utf8(json))` with `sub` (the user id), `exp` (the
expiry) and any claims besides, e.g. `{"sub": "42", "exp": 1767225600, "email":
"ana@example.com", "name": "Ana", "plan": "enterprise"}`. The widget sends it as
`Authorization: Bearer <token>` or `X-Deskpilot-User-Token: <token>`. Python:
`sign_user_token(secret, user_id, ttl)`; any language with HMAC-SHA256 can mint one.

Without a token, a visitor is anonymous (if `chat.allow_anonymous`) and known by the HttpOnly
cookie `deskpilot_session` = `<random id>.<hex HMAC-SHA256 of the id>`, keyed by a value derived
from `identity_secret` or, when that is unset, by a key generated once into
`<data_dir>/session.key`. A forged or tampered cookie is ignored and a new session issued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskpilot.core.config import ChatSettings

SESSION_COOKIE = "deskpilot_session"
SESSION_MAX_AGE = 365 * 24 * 3600
MAX_USER_ID = 256


class IdentityError(Exception):
    """The request cannot be attributed to anyone it may act as (→ 401)."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str (and a client may send anything).
    return hmac.compare_digest(a.encode(), b.encode())


def sign_user_token(secret: str, user_id: str, ttl: float, now: float | None = None,
                    claims: Mapping[str, Any] | None = None) -> str:
    """A token naming `user_id`, valid for `ttl` seconds, with `claims` if given (the format
    is in the module doc)."""
    if not user_id or len(user_id) > MAX_USER_ID:
        raise ValueError(f"user_id must be 1 to {MAX_USER_ID} characters")
    expiry = int((time.time() if now is None else now) + ttl)
    if claims:
        raw = json.dumps({**claims, "sub": user_id, "exp": expiry}, separators=(",", ":"))
    else:
        raw = f"{user_id}.{expiry}"
    payload = _b64encode(raw.encode())
    return f"{payload}.{_mac(secret.encode(), payload)}"


def _claims(decoded: str) -> tuple[str, int, dict[str, Any]]:
    if decoded.startswith("{"):
        claims = json.loads(decoded)
        if not isinstance(claims, dict):
            raise ValueError("not an object")
        user_id, expiry = claims.pop("sub", ""), claims.pop("exp", None)
        if not isinstance(user_id, str) or isinstance(expiry, bool) or not isinstance(expiry, int):
            raise ValueError("sub must be a string and exp an integer")
        return user_id, expiry, claims
    user_id, _, expiry = decoded.rpartition(".")
    return user_id, int(expiry), {}


def verify_user_token_claims(secret: str, token: str, now: float | None = None
                             ) -> tuple[str, dict[str, Any]]:
    """The user id a valid token names and its other claims; IdentityError says why one is not
    valid (`expired` set for an expired one: the client may get a fresh token and retry)."""
    payload, _, signature = token.strip().rpartition(".")
    if not payload or not _same(_mac(secret.encode(), payload), signature.lower()):
        raise IdentityError("invalid user token signature")
    try:
        user_id, expires_at, claims = _claims(_b64decode(payload).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise IdentityError("malformed user token") from None
    if not user_id or len(user_id) > MAX_USER_ID:
        raise IdentityError("malformed user token")
    if expires_at < (time.time() if now is None else now):
        raise IdentityError("user token expired", expired=True)
    return user_id, claims


def verify_user_token(secret: str, token: str, now: float | None = None) -> str:
    """The user id a valid token names; IdentityError says why one is not valid."""
    return verify_user_token_claims(secret, token, now)[0]


def load_session_key(settings: ChatSettings, data_dir: Path) -> bytes:
    """The cookie-signing key: derived from identity_secret, else created once on disk."""
    if settings.identity_secret is not None:
        secret = settings.identity_secret.get_secret_value().encode()
        return hmac.new(secret, b"deskpilot session cookie", hashlib.sha256).digest()
    path = data_dir / "session.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when several workers start together, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _ in range(50):  # another worker may be between creating and writing the file
        key = path.read_text().strip()
        if key:
            return bytes.fromhex(key)
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it to generate a new session key")


@dataclass(frozen=True)
class Identity:
    user_id: str
    anonymous: bool
    # A fresh session cookie value to set on the response, if one was issued.
    new_session: str | None = None
    # What a signed token says besides the id (email, name, attributes).
    claims: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class IdentityResolver:
    def __init__(self, settings: ChatSettings, session_key: bytes) -> None:
        self.settings = settings
        self._session_key = session_key

    def _session_value(self, session_id: str) -> str:
        return f"{session_id}.{_mac(self._session_key, session_id)}"

    def _session_id(self, cookie: str | None) -> str | None:
        session_id, _, signature = (cookie or "").rpartition(".")
        if session_id and signature and _same(self._session_value(session_id), cookie or ""):
            return session_id
        return None

    def resolve(self, token: str | None, cookie: str | None) -> Identity:
        """Token first (an invalid one is refused, never downgraded), then the session cookie."""
        if token:
            secret = self.settings.identity_secret
            if secret is None:
                raise IdentityError(
                    "signed user tokens are not enabled: set chat.identity_secret"
                )
            user_id, claims = verify_user_token_claims(secret.get_secret_value(), token)
            return Identity(f"user:{user_id}", False, claims=claims)
        if not self.settings.allow_anonymous:
            raise IdentityError("sign-in required: send a signed user token")
        session_id = self._session_id(cookie)
        if session_id is not None:
            return Identity(f"anon:{session_id}", True)
        session_id = secrets.token_urlsafe(24)
        return Identity(f"anon:{session_id}", True, new_session=self._session_value(session_id))
