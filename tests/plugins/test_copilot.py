"""Copilot: cited drafts marked as drafts, internal notes kept from customers, staff-only HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

import deskpilot
from core.app import create_app
from core.tables import AuditEvent
from plugins.copilot import DRAFT_MARKER, INTERNAL_LABEL, draft_for_ticket

from .support_fakes import ADMIN, Chat, make_services

TICKET = deskpilot.Ticket(id="2001", subject="Password reset email not received",
                          description="I requested a password reset but no email arrives.",
                          status="open")
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def test_draft_is_marked_cites_sources_and_keeps_internal_notes_out_of_the_reply(
    tmp_path: Path,
) -> None:
    draft = draft_for_ticket(make_services(tmp_path), "desk", TICKET)

    assert draft.draft and draft.body.startswith(DRAFT_MARKER)
    reply, sources = draft.body.split("\n---\nSources:\n")
    assert "add no-reply@acme.example to your allowed senders" in reply  # past resolution
    assert "Forgot password" in reply  # article passage
    assert "[1] Article: Reset your password — https://help.example.com/reset-password" in sources
    assert "Solved ticket 1042" in sources
    # Internal knowledge: cited for the agent, labelled, never in the proposed reply.
    assert INTERNAL_LABEL in sources and "SECRET-NOTE" not in reply
    assert {s.audience for s in draft.sources} == {deskpilot.Audience.PUBLIC,
                                                   deskpilot.Audience.INTERNAL}


def test_customer_answers_never_contain_internal_notes(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    turn = Chat(create_app(services=services)).send("Password reset email never arrives")
    assert "Password reset" in turn.assistant_text
    assert "SECRET-NOTE" not in json.dumps(turn.events)
    assert all(f is not None and f.audience == deskpilot.Audience.PUBLIC
               for f in services.searcher.calls)  # type: ignore[attr-defined]


def test_draft_endpoint_needs_the_admin_token_and_posts_an_internal_note(tmp_path: Path) -> None:
    services = make_services(tmp_path)  # connector "desk" is the local one
    http = TestClient(create_app(services=services))
    body = {"connector": "desk", "ticket_id": "2001", "subject": TICKET.subject,
            "description": TICKET.description}

    assert http.post("/v1/copilot/draft", json=body).status_code == 401
    assert http.post("/v1/copilot/draft", json=body,
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    drafted = http.post("/v1/copilot/draft", json=body, headers=AUTH)
    assert drafted.status_code == 200
    assert drafted.json()["body"].startswith(DRAFT_MARKER)
    assert drafted.json()["note_posted"] is False

    posted = http.post("/v1/copilot/draft", json={**body, "post_note": True}, headers=AUTH)
    assert posted.status_code == 200 and posted.json()["note_posted"] is True
    with Session(services.engine) as session:
        [note] = session.exec(select(AuditEvent).where(AuditEvent.kind == "local.note")).all()
    assert note.subject == "2001" and note.data["body"] == posted.json()["body"]

    no_ticket = {**body, "post_note": True, "ticket_id": None}
    assert http.post("/v1/copilot/draft", json=no_ticket, headers=AUTH).status_code == 400
    unknown = {**body, "connector": "nope"}
    assert http.post("/v1/copilot/draft", json=unknown, headers=AUTH).status_code == 404


def test_copilot_chatkit_is_for_staff_only(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    app = create_app(services=services)
    assert Chat(app, "/copilot/chatkit").send("Password reset email never arrives").status == 401

    staff = Chat(app, "/copilot/chatkit", token=ADMIN).send("I'd like to talk to a person")
    assert staff.status == 200
    # A staff member asking for a person is a question, not a handover.
    assert "passed this conversation" not in staff.assistant_text
    assert staff.assistant_text
