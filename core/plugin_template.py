"""`deskpilot plugin new NAME --kind connector|tool|hooks`: a plugin package to start from.

It writes a pip-installable package: pyproject.toml with the `deskpilot` entry point, the
plugin module (a connector on a fake-able HTTP API, a customer tool, or event hooks with
settings), a test using the contract kit, and a README saying how to install Deskpilot for
development (from a checkout or a built wheel) and run the tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

KINDS = ("connector", "tool", "hooks")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class TemplateError(ValueError):
    """A plugin name or target the template cannot use; the message says why."""


PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$title for Deskpilot."
requires-python = ">=3.11"
# Deskpilot is not on a package index: install it first from a checkout or a wheel (README).
dependencies = ["deskpilot>=0.1"$extra_dependencies]

[project.optional-dependencies]
test = ["pytest>=8"]

# What makes this a Deskpilot plugin: Deskpilot loads every module in this group.
[project.entry-points.deskpilot]
$name = "$pkg"

[tool.setuptools]
packages = ["$pkg"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# $dist

$title for [Deskpilot](https://github.com/deskpilot/deskpilot), made with
`deskpilot plugin new $name --kind $kind`. The plugin guide is Deskpilot's
`docs/writing-a-plugin.md`.

## Develop

Deskpilot is not on a package index, so install it into your virtualenv first, either from a
checkout (editable: changes to Deskpilot apply at once)

    python -m venv .venv && . .venv/bin/activate
    pip install -e /path/to/deskpilot

or from a wheel built from one (`pip wheel --no-deps -w dist /path/to/deskpilot`)

    pip install dist/deskpilot-0.1.0-py3-none-any.whl

then this package with its test extra, and run its tests (the contract kit is the `deskpilot`
pytest plugin, installed with Deskpilot):

    pip install -e ".[test]"
    pytest
    deskpilot plugins            # lists "$name" and what it registered

When pip should resolve `deskpilot` from a folder of wheels instead of an index:
`pip install --no-index --find-links dist/ ".[test]"`.
$usage"""

CONNECTOR_USAGE = """
## Use

```toml
[connectors.support]
type = "$name"
base_url = "https://helpdesk.example.com"
api_key = "env:${upper}_API_KEY"
```
"""

CONNECTOR = '''\
"""The $name connector: articles and tickets from a helpdesk's HTTP API.

The API this template assumes (change it to yours):

    GET /api/articles?updated_after=ISO&page=N    {"articles": [...], "next_page": N+1 | null}
    GET /api/tickets?updated_after=ISO&page=N     {"tickets": [...], "next_page": N+1 | null}
    GET /api/tickets/ID/comments                  {"comments": [{"body", "public"}, ...]}

`updated_after` is exclusive here; if your API includes the boundary second, keep the ids synced
in that second in the checkpoint and skip them (Deskpilot's plugin guide shows how).
    POST /api/tickets/ID/notes {"body": ...}      an internal note
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from pydantic import SecretStr

import deskpilot


STREAMS = ("articles", "tickets")


class ${Class}Options(deskpilot.ConnectorOptions):
    base_url: str
    api_key: SecretStr                      # write "env:${upper}_API_KEY" in the config


class ${Class}Connector(deskpilot.HttpConnector):
    type: ClassVar[str] = "$name"
    capabilities: ClassVar[frozenset[deskpilot.Capability]] = frozenset(
        {deskpilot.Capability.NOTES})
    Options = ${Class}Options
    options: ${Class}Options

    def base_url(self) -> str:
        return self.options.base_url

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.api_key.get_secret_value()}"}

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[deskpilot.SyncPage]:
        # The checkpoint: which stream and page come next, and per stream the newest change
        # already synced (the next run asks for changes after it). Every page carries a copy.
        state = copy.deepcopy(checkpoint) or {"stream": STREAMS[0], "page": 1, "after": {},
                                               "newest": {}}
        for index in range(STREAMS.index(state["stream"]), len(STREAMS)):
            stream = STREAMS[index]
            while True:
                params: dict[str, Any] = {"page": state["page"]}
                if after := state["after"].get(stream):
                    params["updated_after"] = after
                data = self.request_json("GET", f"/api/{stream}", params=params)
                documents, failures = [], []
                for raw in data[stream]:
                    try:
                        documents.append(self._convert(stream, raw))
                    except deskpilot.HelpdeskError as exc:  # this record only: the run goes on
                        ref = deskpilot.DocumentRef(kind=stream.rstrip("s"), id=str(raw["id"]))
                        failures.append(deskpilot.DocumentFailure(
                            where=f"{stream[:-1]} {raw['id']}", error=exc.message, ref=ref,
                            url=exc.url, status=exc.status))
                stamps = [d.updated_at.isoformat() for d in documents if d.updated_at]
                state["newest"][stream] = max([state["newest"].get(stream) or "", *stamps]) or None
                next_page = data.get("next_page")
                if next_page is not None:
                    state["page"] = next_page
                elif index + 1 < len(STREAMS):
                    state.update(stream=STREAMS[index + 1], page=1)
                else:  # the run is done: the next one starts over, asking for changes only
                    state.update(stream=STREAMS[0], page=1, after=dict(state["newest"]))
                yield deskpilot.SyncPage(documents=documents, failures=failures,
                                         checkpoint=copy.deepcopy(state))
                if next_page is None:
                    break

    def _convert(self, stream: str, raw: dict[str, Any]) -> deskpilot.Document:
        return self._article(raw) if stream == "articles" else self._ticket(raw)

    def add_note(self, ticket_id: str, body: str) -> None:
        self.request_json("POST", f"/api/tickets/{ticket_id}/notes", json={"body": body})

    @staticmethod
    def _article(raw: dict[str, Any]) -> deskpilot.Article:
        return deskpilot.Article(id=str(raw["id"]), title=raw["title"], body_html=raw["body"],
                                 url=raw.get("url"), published=raw.get("published", True),
                                 updated_at=datetime.fromisoformat(raw["updated_at"]))

    def _ticket(self, raw: dict[str, Any]) -> deskpilot.Ticket:
        thread = self.request_json("GET", f"/api/tickets/{raw['id']}/comments")
        # Private is a security boundary: anything not clearly public stays internal.
        comments = [deskpilot.Comment(body=c["body"], public=c.get("public") is True)
                    for c in thread["comments"]]
        return deskpilot.Ticket(id=str(raw["id"]), subject=raw["subject"],
                                description=raw.get("description", ""), comments=comments,
                                status=raw.get("status", "open"), tags=raw.get("tags", []),
                                updated_at=datetime.fromisoformat(raw["updated_at"]))
'''

CONNECTOR_TEST = '''\
"""The $name connector against a fake of its API (the real wire format, in memory), through
Deskpilot's contract kit."""

import json

import httpx
import pytest

from deskpilot import DocumentRef
from deskpilot.testkit import ConnectorContract
from ${pkg}.connector import ${Class}Connector, ${Class}Options

ARTICLES = [{"id": n, "title": f"Article {n}", "body": f"<p>How to do thing {n}.</p>",
             "updated_at": f"2025-01-0{n}T10:00:00+00:00"} for n in range(1, 4)]
TICKETS = [{"id": 100 + n, "subject": f"Question {n}", "description": "Please help.",
            "status": "solved", "updated_at": f"2025-02-0{n}T10:00:00+00:00"}
           for n in range(1, 5)]
COMMENTS = {str(100 + n): [{"body": "Here is how.", "public": True},
                           {"body": f"Internal: customer {n} is a VIP.", "public": False}]
            for n in range(1, 5)}
PAGE_SIZE = 2


class FakeApi:
    """Pages of PAGE_SIZE, filtered by updated_after (exclusive); records the notes written."""

    def __init__(self, failing: str | None = None) -> None:
        self.notes: list[tuple[str, dict]] = []
        self.failing = failing  # a ticket whose comments request fails

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != "Bearer test-key":
            return httpx.Response(401, json={"error": "unauthorized"})
        page = int(request.url.params.get("page", 1))
        stream = request.url.path.removeprefix("/api/")
        if request.method == "GET" and stream in ("articles", "tickets"):
            after = request.url.params.get("updated_after")
            rows = [r for r in (ARTICLES if stream == "articles" else TICKETS)
                    if after is None or r["updated_at"] > after]
            return self._page(stream, rows, page)
        if request.method == "GET" and request.url.path.endswith("/comments"):
            ticket_id = request.url.path.split("/")[3]
            if ticket_id == self.failing or ticket_id not in COMMENTS:
                return httpx.Response(404, json={"error": "not found"})
            return httpx.Response(200, json={"comments": COMMENTS[ticket_id]})
        if request.method == "POST" and request.url.path.endswith("/notes"):
            self.notes.append((request.url.path.split("/")[3], json.loads(request.content)))
            return httpx.Response(201, json={"ok": True})
        return httpx.Response(404, json={"error": "not found"})

    @staticmethod
    def _page(key: str, rows: list, page: int) -> httpx.Response:
        chunk = rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
        more = page * PAGE_SIZE < len(rows)
        return httpx.Response(200, json={key: chunk, "next_page": page + 1 if more else None})


def make(api: FakeApi) -> ${Class}Connector:
    options = ${Class}Options(base_url="https://helpdesk.test", api_key="test-key")
    return ${Class}Connector("test", options, transport=httpx.MockTransport(api),
                             sleep=lambda _: None)


class Test${Class}Contract(ConnectorContract):
    @pytest.fixture
    def connector(self):
        return make(FakeApi())

    @pytest.fixture
    def private_comment_bodies(self):
        return ["Internal: customer 1 is a VIP."]

    @pytest.fixture
    def failing_document(self):
        return make(FakeApi(failing="102")), DocumentRef(kind="ticket", id="102")


def test_a_second_run_fetches_only_what_changed() -> None:
    connector = make(FakeApi())
    pages = list(connector.fetch(None))
    again = list(connector.fetch(pages[-1].checkpoint))
    assert [doc for page in again for doc in page.documents] == []


def test_add_note_posts_the_body() -> None:
    api = FakeApi()
    make(api).add_note("101", "Draft reply")
    assert api.notes == [("101", {"body": "Draft reply"})]
'''

HOOKS_CONNECTOR = '''\
"""The $name plugin: what Deskpilot loads through the entry point (keep it light)."""

import deskpilot

from ${pkg}.connector import ${Class}Connector


@deskpilot.hookimpl
def register_connectors(register):
    register(${Class}Connector)
'''

TOOL_USAGE = """
## Use

Installed, the tool is offered to the customer agent. Its settings:

```toml
[plugins.$name]
greeting = "Order"
```
"""

TOOL_INIT = '''\
"""The $name plugin: a customer tool and its settings (keep this module light)."""

import json

import deskpilot


class ${Class}Settings(deskpilot.Options):
    """The table [plugins.$name]."""

    greeting: str = "Order"


@deskpilot.tool(
    audience=deskpilot.ToolAudience.CUSTOMER,
    examples=["Where is my order 12345?", "What is the status of order 12345?"],
    arguments={"order_id": r"\\b(\\d{5,})\\b"},
)
async def ${name}(call: deskpilot.ToolCall, order_id: str) -> str:
    """Where a customer's order is.

    Args:
        order_id: The order number.
    """
    if not call.verified:  # an anonymous visitor may type anyone's order number
        return json.dumps({"message": "Please sign in so I can look up your order."})
    settings = call.platform.settings_for(${Class}Settings)
    status = await call.platform.run_blocking(lookup, order_id)  # blocking work off the loop
    return json.dumps({"message": f"{settings.greeting} {order_id} is {status}."})


def lookup(order_id: str) -> str:
    """Replace with a call to your order system (it runs in a thread)."""
    return "on its way"


@deskpilot.hookimpl
def register_settings(register):
    register(${Class}Settings)


@deskpilot.hookimpl
def register_tools(register):
    register(${name})
'''

TOOL_TEST = '''\
"""The $name tool through Deskpilot's contract kit, and an agent calling it."""

import json

import pytest

from deskpilot.testkit import ScriptedModel, StubPlatform, ToolContract, run_agent
from ${pkg} import ${Class}Settings, ${name}


def platform() -> StubPlatform:
    return StubPlatform(settings=[${Class}Settings()])


class Test${Class}Contract(ToolContract):
    @pytest.fixture
    def tool(self):
        return ${name}(platform())


def test_the_offline_model_calls_the_tool_for_a_matching_question() -> None:
    run = run_agent([${name}(platform())], "Where is my order 12345?")
    assert [(name, args) for name, args, _ in run.calls] == [("${name}", {"order_id": "12345"})]
    assert run.reply == "Order 12345 is on its way."


def test_it_asks_for_a_missing_order_number() -> None:
    run = run_agent([${name}(platform())], "Where is my order?")
    assert run.calls == []
    assert "order number" in run.reply


def test_an_anonymous_visitor_is_asked_to_sign_in() -> None:
    run = run_agent([${name}(platform())], "anything",
                    model=ScriptedModel(("${name}", {"order_id": "12345"})), verified=False)
    assert json.loads(run.calls[0][2])["message"].startswith("Please sign in")
'''

HOOKS_USAGE = """
## Use

```toml
[plugins.$name]
notify_on_failures = true
```
"""

HOOKS_INIT = '''\
"""The $name plugin: reacts to Deskpilot's events (keep this module light)."""

import deskpilot


class ${Class}Settings(deskpilot.Options):
    """The table [plugins.$name]."""

    notify_on_failures: bool = True


@deskpilot.hookimpl
def register_settings(register):
    register(${Class}Settings)


@deskpilot.hookimpl
def sync_finished(platform, event):
    """A knowledge sync ended: record the runs that had failures."""
    settings = platform.settings_for(${Class}Settings)
    failed = event.report.get("failed", 0)
    if settings.notify_on_failures and failed:
        platform.audit("${name}.sync_failures", event.connector, failed=failed)
'''

HOOKS_TEST = '''\
"""The $name hooks, called as Deskpilot calls them."""

import deskpilot
from deskpilot.testkit import StubPlatform
from ${pkg} import ${Class}Settings, sync_finished


def test_a_sync_with_failures_is_recorded() -> None:
    platform = StubPlatform(settings=[${Class}Settings()])
    sync_finished(platform, deskpilot.SyncFinished(connector="support", report={"failed": 2}))
    assert platform.audits == [("${name}.sync_failures", "support", {"failed": 2})]


def test_it_can_be_switched_off() -> None:
    platform = StubPlatform(settings=[${Class}Settings(notify_on_failures=False)])
    sync_finished(platform, deskpilot.SyncFinished(connector="support", report={"failed": 2}))
    assert platform.audits == []
'''


def files(name: str, kind: str) -> dict[str, str]:
    """The package's files, path -> text. Raises TemplateError for an unusable name or kind."""
    if not NAME.match(name):
        raise TemplateError(f"plugin name {name!r}: use lowercase letters, digits and '_', "
                            "starting with a letter (it becomes a Python package name)")
    if kind not in KINDS:
        raise TemplateError(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    pkg = f"deskpilot_{name}"
    words = {"name": name, "pkg": pkg, "dist": f"deskpilot-{name.replace('_', '-')}",
             "Class": "".join(part.capitalize() for part in name.split("_")),
             "upper": name.upper(), "kind": kind,
             "title": {"connector": f"A {name} helpdesk connector",
                       "tool": f"A {name} agent tool",
                       "hooks": f"The {name} event hooks"}[kind],
             "extra_dependencies": ', "httpx>=0.27,<1"' if kind == "connector" else ""}
    words["usage"] = Template({"connector": CONNECTOR_USAGE, "tool": TOOL_USAGE,
                               "hooks": HOOKS_USAGE}[kind]).substitute(words)
    chosen = {"pyproject.toml": PYPROJECT, "README.md": README}
    if kind == "connector":
        chosen |= {f"{pkg}/__init__.py": HOOKS_CONNECTOR, f"{pkg}/connector.py": CONNECTOR,
                   f"tests/test_{name}.py": CONNECTOR_TEST}
    elif kind == "tool":
        chosen |= {f"{pkg}/__init__.py": TOOL_INIT, f"tests/test_{name}.py": TOOL_TEST}
    else:
        chosen |= {f"{pkg}/__init__.py": HOOKS_INIT, f"tests/test_{name}.py": HOOKS_TEST}
    return {path: Template(text).substitute(words) for path, text in chosen.items()}


def write(name: str, kind: str, parent: Path) -> Path:
    """Write the package into `parent`/deskpilot-NAME; refuses a folder that is not empty."""
    found = files(name, kind)
    root = parent / f"deskpilot-{name.replace('_', '-')}"
    if root.exists() and any(root.iterdir()):
        raise TemplateError(f"{root}: already exists and is not empty")
    for path, text in found.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root
