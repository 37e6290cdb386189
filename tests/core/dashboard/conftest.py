"""One small support site for the dashboard tests: a local help center (two articles, three
solved tickets) synced with the real MiniLM embedder and index, and customer conversations held
through the real /chatkit endpoint with the offline customer agent: answered with sources,
answered without, thumbed up and down, and handed over."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from deskpilot.core.app import create_app
from deskpilot.core.chat.identity import sign_user_token
from deskpilot.core.config import load_settings
from deskpilot.core.services import Services
from tests.conftest import serve
from tests.core.chat.conftest import chromium
from tests.core.chat.protocol import ChatClient

ADMIN = "dashboard-admin-token"
SECRET = "dashboard-identity-secret"
CONFIG = """
[server]
admin_token = "{admin}"

[chat]
identity_secret = "{secret}"

[agent.prices."gpt-4.1-mini"]
input = 0.4
output = 1.6

[connectors.help]
type = "local"
path = "{path}"
"""
ARTICLES = {
    "refunds.md": "---\ntitle: Refund policy\nurl: https://help.example/refunds\n---\n"
                  "Refunds are possible within 14 days of purchase. Open Billing, choose the "
                  "payment and press Request refund.\n",
    "password.md": "---\ntitle: Reset your password\nurl: https://help.example/password\n"
                   "---\nTo reset your password, open the sign-in page and choose Forgot "
                   "password. We email you a reset link that works for one hour.\n",
}
REQUESTER = {"name": "Sam Lee", "email": "sam@example.org"}
AGENT = {"name": "Tom Reyes", "email": "tom@acme.example"}


def _ticket(id: str, subject: str, question: str, reply: str) -> dict[str, object]:
    return {"id": id, "subject": subject, "status": "solved",
            "updated_at": "2026-11-20T10:00:00Z", "description": question,
            "requester": REQUESTER,
            "comments": [{"author_role": "agent", "author": AGENT, "body": reply,
                          "public": True}]}


TICKETS = [
    _ticket("501", "Paying by bank transfer", "Can I pay my invoice by bank transfer?",
            "Yes: bank transfer is available on annual plans. Choose Invoice at checkout and "
            "use the IBAN printed on the invoice. Payments take two business days to arrive."),
    _ticket("502", "Wire transfer", "Do you accept wire transfers?",
            "We accept wire transfers for annual plans. Pick Invoice as the payment method; "
            "the bank details are on the invoice."),
    _ticket("503", "Student discount", "Is there a discount for students?",
            "Students get 50% off with a university email address. Apply from the Billing "
            "page under Discounts."),
]
#: (questions of one conversation, feedback for its last answer)
CONVERSATIONS = [
    (["How do I get a refund for my purchase?"], "positive"),
    (["I forgot my password, how do I reset it?"], "negative"),
    (["Can I pay with a bank transfer?"], None),
    (["Do you take wire transfers as payment?"], "negative"),
    (["Is there a student discount?", "I'd like to talk to a person"], None),
]


@dataclass
class Site:
    services: Services
    app: FastAPI
    config: Path
    data_dir: Path
    threads: list[str]


def _customer(app: FastAPI, n: int) -> ChatClient:
    return ChatClient(app, sign_user_token(SECRET, f"customer-{n}", 3600,
                                           claims={"email": f"customer{n}@example.org"}))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("dashboard")
    desk = root / "desk"
    desk.mkdir()
    for name, text in ARTICLES.items():
        (desk / name).write_text(text)
    (desk / "tickets.jsonl").write_text("".join(json.dumps(t) + "\n" for t in TICKETS))
    config = root / "deskpilot.toml"
    config.write_text(CONFIG.format(admin=ADMIN, secret=SECRET, path=desk))
    settings = load_settings(config, data_dir=root / "data")
    services = Services(settings)
    services.migrate()
    services.sync("help")
    app = create_app(services=services)
    threads = []
    for n, (questions, vote) in enumerate(CONVERSATIONS):
        customer = _customer(app, n)
        turn = customer.create(questions[0])
        assert turn.response.status_code == 200, turn.response.text
        thread_id = turn.thread_id
        for question in questions[1:]:
            assert customer.add_message(thread_id, question).response.status_code == 200
        if vote is not None:
            items = customer.list_items(thread_id)["data"]
            answer = [i for i in items if i["type"] == "assistant_message"][-1]
            customer.feedback(thread_id, [answer["id"]], vote)
        threads.append(thread_id)
    yield Site(services, app, config, root / "data", threads)
    services.close()


@pytest.fixture(scope="module")
def base(site: Site) -> Iterator[str]:
    with serve(site.app) as port:  # no lifespan: the site's platform outlives this server
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched
