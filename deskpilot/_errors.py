"""Errors a caller can cause and fix: one type, mapped to its status code by one handler."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class ClientError(Exception):
    """An error to answer with `status_code` and a message naming the problem: the caller's
    mistake (4xx), or a helpdesk that failed us (502). Raised anywhere below a route, it
    becomes that response; in the CLI, an `error: …` line. Never for a bug of our own, which
    stays a logged 500."""

    def __init__(self, status_code: int, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = dict(headers or {})


class UnknownConnector(ClientError, LookupError):
    """No enabled connector has this name. `known`, when given, is listed in the message: give it
    to an authenticated caller (an operator), never to an anonymous one (a webhook sender)."""

    def __init__(self, name: str, known: Iterable[str] | None = None) -> None:
        message = f"no enabled connector named {name!r}"
        if known is not None:
            message += f" (configured: {', '.join(sorted(known)) or 'none'})"
        super().__init__(404, message)
        self.name = name
