"""Test doubles for the support tools: a deterministic embedder, a helpdesk connector that
records its write-backs, labelled past tickets, and services with triage and tagging loaded."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import deskpilot
import deskpilot.plugins.tagging
import deskpilot.plugins.triage
from deskpilot._documents import Article, SyncPage, Ticket
from deskpilot.core.config import ConnectorSettings, EmbedderSettings, Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services
from deskpilot.knowledge.store import session_scope
from deskpilot.knowledge.tickets import record_tickets

_WORD = re.compile(r"[a-z0-9]+")
SECRET = "whsec-test"


class HashEmbedder(deskpilot.Embedder):
    """Bag of words hashed into 256 dimensions: similar wording, similar vectors; no model."""

    name: ClassVar[str] = "hash"

    def __init__(self) -> None:
        super().__init__(EmbedderSettings(name="hash"))

    @property
    def dimension(self) -> int:
        return 256

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        rows = []
        for text in texts:
            vector = np.zeros(self.dimension, dtype=np.float32)
            for word in _WORD.findall(text.lower()):
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % (self.dimension - 1)] += 1
            vector[-1] = 0.05  # keeps an empty text a unit vector too
            rows.append((vector / np.linalg.norm(vector)).tolist())
        return rows


def embedded_defaults(data_dir: Path, **settings: Any) -> Services:
    """Services on the embedded defaults (SQLite, the demo connector, every built-in plugin)
    under `data_dir`, migrated, with the hash embedder in place of the model."""
    services = Services(Settings(data_dir=data_dir, **settings))
    services.__dict__["embedder"] = HashEmbedder()  # where Services keeps what it built
    services.migrate()
    return services


class DeskOptions(deskpilot.ConnectorOptions):
    webhook_secret: str = SECRET
    vocabulary: list[str] = []


class TestDesk(deskpilot.Connector):
    """A helpdesk in memory: serves `articles`/`tickets`, records notes and tags written, and
    verifies `X-Signature: sha256=<hmac of body>` webhooks."""

    __test__ = False
    type: ClassVar[str] = "testdesk"
    full_listing: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[deskpilot.Capability]] = frozenset({
        deskpilot.Capability.NOTES, deskpilot.Capability.TAGS, deskpilot.Capability.WEBHOOKS})
    Options = DeskOptions
    options: DeskOptions

    def __init__(self, name: str, options: DeskOptions) -> None:
        super().__init__(name, options)
        self.articles: list[Article] = []
        self.tickets: list[Ticket] = []
        self.notes: list[tuple[str, str]] = []
        self.tag_calls: list[tuple[str, list[str]]] = []

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        yield SyncPage(documents=[*self.articles, *self.tickets], checkpoint={"done": True})

    def tag_vocabulary(self) -> list[str]:
        return list(self.options.vocabulary)

    def add_note(self, ticket_id: str, body: str) -> None:
        self.notes.append((ticket_id, body))

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self.tag_calls.append((ticket_id, list(tags)))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        lower = {k.lower(): v for k, v in headers.items()}
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, lower.get("x-signature", ""))


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


class TestDeskPlugin:
    __test__ = False

    @deskpilot.hookimpl
    def register_connectors(self, register: Any) -> None:
        register(TestDesk)


VOCABULARY = ["billing", "refund", "login", "password", "outage", "urgent", "vip"]

# Labelled past tickets: (subject, description, category, priority, tags).
PAST = [
    ("Refund for double charge", "I was charged twice for my invoice, please refund", "billing",
     "normal", ["billing", "refund"]),
    ("Invoice charged twice", "My card was charged twice this month, I want a refund",
     "billing", "normal", ["billing", "refund"]),
    ("Refund request", "Please refund the annual plan charge on my invoice", "billing",
     "normal", ["billing", "refund"]),
    ("Wrong invoice amount", "The invoice charge is wrong, refund the difference", "billing",
     "normal", ["billing"]),
    ("Cannot log in", "Password reset email never arrives and I cannot log in", "login",
     "normal", ["login", "password"]),
    ("Login loop", "I log in and the page sends me back to the login screen", "login",
     "normal", ["login"]),
    ("Forgot password", "How do I reset my password, the reset link expired", "login",
     "normal", ["login", "password"]),
    ("Locked out", "My account is locked after a password reset, cannot log in", "login",
     "normal", ["login", "password"]),
    ("Site down", "Your whole site is down, every page returns error 503", "outage", "urgent",
     ["outage", "urgent"]),
    ("API outage", "The API is down and returns 503 errors for all requests", "outage",
     "urgent", ["outage", "urgent"]),
    ("Dashboard down", "The dashboard is down with error 503 for our whole team", "outage",
     "urgent", ["outage", "urgent"]),
    ("Servers not responding", "Every request times out, your servers are down", "outage",
     "urgent", ["outage", "urgent"]),
]


def past_tickets() -> list[Ticket]:
    return [
        Ticket(id=f"past-{n}", subject=subject, description=text, category=category,
               priority=priority, tags=tags, status="solved")
        for n, (subject, text, category, priority, tags) in enumerate(PAST)
    ]


def make_services(tmp_path: Path, database_url: str | None = None, **automation: Any
                  ) -> Services:
    settings = Settings(
        data_dir=tmp_path / "data",
        database={"url": database_url},
        server={"admin_token": "admin-secret"},
        automation=automation,
        # Entry points other than these are left out: the plugins under test are registered
        # below, and part B's copilot (which writes notes) is deliberately not loaded.
        plugins={"allow": ["embedders", "knowledge_search"]},
        connectors={"desk": ConnectorSettings(type="testdesk", vocabulary=VOCABULARY)},
    )
    host = load_plugins(settings.plugins, extra=[
        ("testdesk", TestDeskPlugin()), ("triage", deskpilot.plugins.triage),
        ("tagging", deskpilot.plugins.tagging)])
    services = Services(settings, host)
    services.__dict__["embedder"] = HashEmbedder()  # where Services keeps what it built
    services.migrate()
    return services


def desk(services: Services) -> TestDesk:
    connector = services.connectors["desk"]
    assert isinstance(connector, TestDesk)
    return connector


def record_past(services: Services, connector: str = "desk") -> None:
    with session_scope(services.engine) as session:
        record_tickets(session, connector, past_tickets(), [])
