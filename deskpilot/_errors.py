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


class HelpdeskError(ClientError):
    """A helpdesk API call that failed for good: an error status after the retries, a body
    that is not the API's JSON, or a connection that never completed. `message` is one line
    naming the URL (credentials removed), what was wrong and what to do; `status` is the HTTP
    status (None when there was no usable answer). Answered as 502: the helpdesk failed us."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(502, message)
        self.url = url
        self.status = status

    def with_context(self, prefix: str) -> HelpdeskError:
        """The same error, its message led by `prefix` (e.g. which connector made the call)."""
        return HelpdeskError(f"{prefix}: {self.message}", url=self.url, status=self.status)


class InternalOnly(PermissionError):
    """A customer tool asked its platform view for internal data (past tickets, the database, a
    helpdesk's reads, staff tools): the customer view does not offer it. A plugin bug, not a
    caller's mistake: give the tool `audience = ToolAudience.AGENT` if it is for staff."""

    def __init__(self, member: str) -> None:
        super().__init__(f"{member} is internal data: a customer tool's platform does not offer "
                         "it (tools for staff declare audience = ToolAudience.AGENT)")
        self.member = member
