"""Fakes for the escalation and copilot tests: a fixed searcher, a helpdesk that can be down,
an app wired with them, and a minimal ChatKit client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

import deskpilot
from deskpilot._search import Passage, SearchFilter
from deskpilot.core.config import ConnectorSettings, Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services
from deskpilot.knowledge.index.calibration import UNCALIBRATED_WEIGHT

ADMIN = "admin-test-token"


def passage(title: str, text: str, score: float, kind: str = "article", url: str | None = None,
            audience: deskpilot.Audience = deskpilot.Audience.PUBLIC, doc: str | None = None,
            note: bool = False, authors: tuple[str, ...] = ()) -> Passage:
    """`authors`: of a ticket's lines after the title, as the index records them."""
    return Passage(score=score, document_id=doc or title.lower().replace(" ", "-"), title=title,
                   text=f"{title}\n{text}", url=url, source="demo",
                   kind=deskpilot.DocumentKind(kind), audience=audience, note=note,
                   authors=("", *authors) if authors else ())


RESET_ARTICLE = passage(
    "Reset your password", "Open the sign-in page and choose Forgot password. We email you a "
    "reset link that stays valid for 30 minutes.", 1.3,
    url="https://help.example.com/reset-password")
SOLVED_TICKET = passage(
    "Password reset email never arrives", "I asked for a reset link twice and got nothing.\n"
    "The reset email was caught by your spam filter: add no-reply@acme.example to your "
    "allowed senders and request a new password reset link.", 1.1, kind="ticket", doc="1042",
    audience=deskpilot.Audience.INTERNAL,  # a ticket's conversation: staff knowledge
    authors=("customer", "agent"))
INTERNAL_NOTE = passage(
    "Password reset email never arrives", "SECRET-NOTE: agents can force a reset from the "
    "admin console after checking identity.", 1.5, kind="ticket", doc="1042",
    audience=deskpilot.Audience.INTERNAL, note=True, authors=("agent",))


@dataclass
class StubSearcher:
    passages: list[Passage]
    calls: list[SearchFilter | None] = field(default_factory=list)
    weight: float = UNCALIBRATED_WEIGHT

    def search(self, query: str, k: int, filter: SearchFilter | None = None,
               per_document: bool = False) -> list[Passage]:
        self.calls.append(filter)
        hits = self.passages
        if filter is not None and filter.audience is not None:
            hits = [p for p in hits if p.audience == filter.audience]
        if filter is not None and filter.kind is not None:
            hits = [p for p in hits if p.kind == filter.kind]
        return sorted(hits, key=lambda p: -p.score)[:k]

    def lexical_weight(self) -> float:  # λ in the scores, as the real Searcher says
        return self.weight


class FlakyDesk(deskpilot.Connector):
    """A helpdesk whose API can be down: create_ticket then fails as httpx does."""

    type: ClassVar[str] = "flakydesk"
    capabilities: ClassVar[frozenset[deskpilot.Capability]] = frozenset(
        {deskpilot.Capability.TICKETS, deskpilot.Capability.NOTES})
    # Class-level, so that a "restarted" app (new Services, new instance) sees the same desk.
    down: ClassVar[bool] = False
    tickets: ClassVar[list[deskpilot.EscalationRequest]] = []

    def fetch(self, checkpoint: dict[str, Any] | None) -> Any:
        return iter(())

    def create_ticket(self, request: deskpilot.EscalationRequest) -> str:
        if FlakyDesk.down:
            raise httpx.ConnectError("connection refused")
        FlakyDesk.tickets.append(request)
        return f"FD-{len(FlakyDesk.tickets)}"


@dataclass
class Recorder:
    """Registers the fake connector and records conversation_escalated events."""

    escalated: list[dict[str, Any]] = field(default_factory=list)

    @deskpilot.hookimpl
    def register_connectors(self, register: Any) -> None:
        register(FlakyDesk)

    @deskpilot.hookimpl
    def conversation_escalated(self, event: deskpilot.ConversationEscalated) -> None:
        self.escalated.append({"thread_id": event.thread_id, "ticket_ref": event.ticket_ref})


def make_services(data_dir: Path, connector: str = "local", recorder: Recorder | None = None,
                  searcher: StubSearcher | None = None, options: dict[str, Any] | None = None,
                  extra: list[tuple[str, object]] | None = None, **sections: Any) -> Services:
    """`options`: the connector's; `sections`: more config tables (`escalation={...}`);
    `extra`: more plugin objects."""
    settings = Settings(data_dir=data_dir, connectors={
        "desk": ConnectorSettings(type=connector, **(options or {}))}, **sections)
    settings.server.admin_token = SecretStr(ADMIN)
    plugins = load_plugins(settings.plugins,
                           extra=[("recorder", recorder or Recorder()), *(extra or [])])
    services = Services(settings, plugins)
    # Services builds its parts once into __dict__: a stand-in placed there is used as built.
    services.__dict__["searcher"] = searcher or StubSearcher(
        [RESET_ARTICLE, SOLVED_TICKET, INTERNAL_NOTE])
    services.migrate()
    return services


def user_input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [],
            "inference_options": {}}


@dataclass
class Turn:
    status: int
    events: list[dict[str, Any]]

    @property
    def thread_id(self) -> str:
        return next(e["thread"]["id"] for e in self.events if e["type"] == "thread.created")

    @property
    def assistant_text(self) -> str:
        return "".join(part["text"] for e in self.events if e["type"] == "thread.item.done"
                       and e["item"]["type"] == "assistant_message"
                       for part in e["item"]["content"])


class Chat:
    def __init__(self, app: FastAPI, path: str = "/chatkit", token: str | None = None) -> None:
        self.http = TestClient(app)
        self.path = path
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def send(self, text: str, thread_id: str | None = None) -> Turn:
        body = ({"type": "threads.add_user_message",
                 "params": {"thread_id": thread_id, "input": user_input(text)}}
                if thread_id else {"type": "threads.create", "params": {"input": user_input(text)}})
        response = self.http.post(self.path, content=json.dumps(body), headers={
            **self.headers, "Content-Type": "application/json"})
        events = [json.loads(line[5:]) for line in response.text.splitlines()
                  if line.startswith("data:")] if response.status_code == 200 else []
        return Turn(response.status_code, events)
