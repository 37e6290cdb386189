"""The dashboard's Snippets page: the review queue, each snippet beside the solved tickets it
came from; the reviewer may correct the text, then approve (public at once) or reject."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import deskpilot

from .queue import SnippetQueue, to_json
from .routes import Approval, Rejection, approve_and_publish, reject_and_withdraw
from .tables import SnippetStatus

REVIEWER = "dashboard"


def _snippet_id(form: Mapping[str, str]) -> int:
    value = form.get("snippet_id", "")
    if not value.isdigit() or not 1 <= int(value) <= 2**63 - 1:
        raise deskpilot.ClientError(422, f"snippet_id must be a snippet's id, not {value!r}")
    return int(value)


def context(platform: deskpilot.Platform, query: Mapping[str, str]) -> dict[str, Any]:
    wanted = query.get("status", SnippetStatus.PENDING)
    if wanted not in {*SnippetStatus, "all"}:
        raise deskpilot.ClientError(422, "status must be one of: all, "
                                         + ", ".join(SnippetStatus))
    queue = SnippetQueue(platform)
    rows = queue.list(None if wanted == "all" else SnippetStatus(wanted))
    return {"snippets": [to_json(s, full=True) for s in rows], "status": wanted,
            "statuses": ["all", *SnippetStatus]}


def approve(platform: deskpilot.Platform, form: Mapping[str, str]) -> str:
    snippet = approve_and_publish(SnippetQueue(platform), _snippet_id(form), Approval(
        by=REVIEWER, question=form.get("question"), answer=form.get("answer")))
    return f"Snippet {snippet['id']} approved: customers' answers may use it now."


def reject(platform: deskpilot.Platform, form: Mapping[str, str]) -> str:
    snippet = reject_and_withdraw(SnippetQueue(platform), _snippet_id(form),
                                  Rejection(by=REVIEWER))
    return f"Snippet {snippet['id']} rejected: it will never be public."


PAGE = deskpilot.DashboardPage(name="snippets", title="Snippets",
                               template=Path(__file__).with_name("dashboard.html"),
                               context=context, actions={"approve": approve, "reject": reject})
