"""How CLI commands find and talk to the `serve` process that owns the embedded index.

At start `serve` writes `<data_dir>/server.json` (its URL and a random per-start admin token,
mode 0600, so only the same user can read it) and removes it at stop. `deskpilot sync` and
`deskpilot search` read it to ask the server when they cannot open the index themselves.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from deskpilot.core.config import Settings

if TYPE_CHECKING:
    from deskpilot.core.search import AudienceName
    from deskpilot.core.services import Services
    from deskpilot.knowledge.sync import Progress

SERVER_FILE = "server.json"
_ANY_ADDRESS = {"0.0.0.0", "::", ""}


class ServerUnavailable(RuntimeError):
    """No running server could be asked (no server.json, or nothing answers at its URL)."""


class ServerError(RuntimeError):
    """The server answered with an error; the message is its `detail`."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code


@dataclass(frozen=True)
class ServerInfo:
    url: str
    token: str
    pid: int


def _path(settings: Settings) -> Path:
    return settings.data_dir / SERVER_FILE


def announce(settings: Settings) -> str:
    """Write server.json for this process; returns the per-start admin token."""
    host = settings.server.host
    host = "127.0.0.1" if host in _ANY_ADDRESS else f"[{host}]" if ":" in host else host
    token = secrets.token_urlsafe(32)
    info = {"url": f"http://{host}:{settings.server.port}", "token": token, "pid": os.getpid()}
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(info, out)
    temporary.replace(path)  # readers never see a half-written file
    return token


def withdraw(settings: Settings, token: str) -> None:
    """Remove server.json if it is still ours (another server may have started since)."""
    info = read(settings)
    if info is not None and secrets.compare_digest(info.token, token):
        _path(settings).unlink(missing_ok=True)


def read(settings: Settings) -> ServerInfo | None:
    try:
        data = json.loads(_path(settings).read_text(encoding="utf-8"))
        return ServerInfo(url=str(data["url"]), token=str(data["token"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def call(
    settings: Settings, method: str, path: str, params: dict[str, Any] | None = None,
    timeout: float | None = 30.0,
) -> Any:
    """One admin request to the running server; returns the JSON body."""
    info = read(settings)
    if info is None:
        raise ServerUnavailable(f"no running server found ({_path(settings)} does not exist)")
    try:
        response = httpx.request(
            method, info.url + path, params=params, timeout=timeout,
            headers={"Authorization": f"Bearer {info.token}"},
        )
    except httpx.TransportError as exc:
        raise ServerUnavailable(f"the server at {info.url} does not answer: {exc}") from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ServerError(response.status_code, str(detail))
    return response.json()


# -- commands that need the index: here if we can open it, else on the running server ---------
def sync_anywhere(
    services: Services, connector: str, full: bool = False, progress: Progress | None = None
) -> dict[str, Any]:
    """Run a sync in this process, or — when `serve` owns the embedded index — on the server.
    Returns the run's report."""
    from deskpilot.knowledge.index import IndexLocked
    from deskpilot.knowledge.runs import report

    try:
        return report(services.sync(connector, full, progress))
    except IndexLocked as exc:
        held = exc
    try:  # a sync can take minutes: no read timeout
        return call(services.settings, "POST", f"/v1/sync/{connector}",
                    params={"full": str(full).lower()}, timeout=None)
    except ServerUnavailable as exc:
        raise ServerUnavailable(f"{held}; and {exc}") from None


def search_anywhere(
    services: Services, query: str, k: int = 5, audience: AudienceName = "public",
) -> list[dict[str, Any]]:
    from deskpilot.core.search import search_passages
    from deskpilot.knowledge.index import IndexLocked

    try:
        return search_passages(services, query, k, audience)
    except IndexLocked as exc:
        held = exc
    try:
        answer = call(services.settings, "GET", "/v1/search",
                      params={"q": query, "k": k, "audience": audience})
    except ServerUnavailable as exc:
        raise ServerUnavailable(f"{held}; and {exc}") from None
    return answer["passages"]
