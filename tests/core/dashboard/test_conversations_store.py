"""The conversations the dashboard reads, on SQLite and PostgreSQL: turns, low-confidence
answers, feedback, search in titles and messages, and the rates."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskpilot.core.app import create_app
from deskpilot.core.chat.identity import sign_user_token
from deskpilot.core.chat.runtime import build_chat
from deskpilot.core.config import Settings
from deskpilot.core.conversations import load_conversations, transcript
from deskpilot.core.dashboard.figures import rates
from deskpilot.core.services import Services
from tests.core.chat.protocol import ChatClient
from tests.core.chat.scripted import ScriptedAgent

SECRET = "store-test-secret"


@pytest.mark.postgres
def test_conversations_on_both_databases(database_url: str, tmp_path: Path) -> None:
    services = Services(Settings(data_dir=tmp_path, connectors={},
                                 database={"url": database_url},
                                 chat={"identity_secret": SECRET}))
    services.migrate()
    app = create_app(services=services)
    app.state.chat = build_chat(services, ScriptedAgent().build)  # echoes, cites nothing
    customer = ChatClient(app, sign_user_token(SECRET, "ana", 3600))
    first = customer.create("Where is my parcel?").thread_id
    customer.add_message(first, "It was sent on Monday")
    second = customer.create("Ändern der Lieferadresse").thread_id
    answer = [i for i in customer.list_items(second)["data"]
              if i["type"] == "assistant_message"][-1]
    customer.feedback(second, [answer["id"]], "negative")

    found = {c.id: c for c in load_conversations(services.engine)}
    assert set(found) == {first, second}
    assert [t.question for t in found[first].turns] == ["Where is my parcel?",
                                                        "It was sent on Monday"]
    assert all(t.low_confidence for t in found[first].turns)
    assert found[second].feedback("negative") == 1 and not found[second].handed_over
    # A word of a later message (not the title), any case; a title with non-ASCII letters.
    assert [c.id for c in load_conversations(services.engine, search="MONDAY")] == [first]
    assert [c.id for c in load_conversations(services.engine, search="lieferadresse")] == [
        second]
    assert load_conversations(services.engine, search="refund") == []
    messages = transcript(services.engine, second)
    assert [m["role"] for m in messages] == ["customer", "assistant"]
    assert messages[1]["feedback"] == "negative"
    figures = rates(services.engine, 7)["total"]
    assert (figures["conversations"], figures["answers"], figures["low_confidence"],
            figures["thumbs_down"], figures["deflection_rate"]) == (2, 3, 3, 1, 1.0)
    services.close()
