"""A helpdesk folder whose one solved ticket carries canaries in its public reply."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deskpilot.core.config import Settings
from deskpilot.core.services import Services
from tests.plugins.helpers import HashEmbedder

INVOICE = "INV-2025-0412"
EMAIL = "anna.berg@example.org"
PHONE = "+1 415-555-0134"
CANARIES = (INVOICE, EMAIL, PHONE, "415-555-0134", "Anna", "Globex")
ADMIN = "snippets-admin-token"

REQUESTER = {"name": "Anna Berg", "email": EMAIL, "organization": "Globex Industries"}
AGENT = {"name": "Tom Reyes", "email": "tom@acme.example"}
REPLY = ("Hi Anna, sorry about that! The first charge was a card authorization that failed "
         "3-D Secure and was voided by your bank; only one charge was captured. The pending "
         "charge disappears within 5 business days. Your invoice " + INVOICE + " shows the "
         "single payment. If it is still there, call " + PHONE + " or write from " + EMAIL
         + ". Best, Tom")


def ticket(id: str, subject: str, reply: str = REPLY, **extra: Any) -> dict[str, Any]:
    return {
        "id": id, "subject": subject, "status": "solved", "updated_at": "2025-05-02T10:41:00Z",
        "description": f"Hi, I see two charges of 29 USD on my card. Globex needs this fixed. "
                       f"Reach me at {PHONE}.",
        "requester": REQUESTER,
        "comments": [
            {"author_role": "agent", "author": AGENT, "body": reply, "public": True},
            {"author_role": "customer", "author": REQUESTER, "body": "Thanks, it's gone now.",
             "public": True},
            {"author_role": "agent", "author": AGENT, "public": False,
             "body": "internal: customer is on the legacy plan, Finance ref FIN-8812."},
        ],
        **extra,
    }


def write_helpdesk(root: Path, tickets: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "refunds.md").write_text(
        "---\ntitle: Refund policy\n---\nRefunds are possible within 14 days of purchase. "
        "Open Billing, choose the payment and press Request refund.\n")
    (root / "tickets.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tickets))
    return root


MakeServices = Callable[..., Services]


@pytest.fixture
def make_services(tmp_path: Path) -> Iterator[MakeServices]:
    made: list[Services] = []

    def make(tickets: list[dict[str, Any]] | None = None, **settings: Any) -> Services:
        folder = write_helpdesk(tmp_path / "desk", tickets or [ticket("1001", "Charged twice")])
        services = Services(Settings(
            data_dir=tmp_path / "data", server={"admin_token": ADMIN},
            connectors={"desk": {"type": "local", "path": str(folder)}}, **settings))
        services.__dict__["embedder"] = HashEmbedder()
        services.migrate()
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
