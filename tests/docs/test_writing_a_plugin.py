"""docs/writing-a-plugin.md stays true: every facade name, Platform member and hook it names
exists, with the signature it documents — and nothing of the facade goes undocumented."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import deskpilot
from deskpilot import _hooks
from tests.conftest import REPO

GUIDE = (REPO / "docs" / "writing-a-plugin.md").read_text()


def _table(heading: str) -> list[str]:
    """The first column of the first table after `heading`, one cell per row."""
    section = GUIDE.split(heading, 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    cells, started = [], False
    for line in section.splitlines():
        if line.startswith("|"):
            started = True
            if line in rows:
                cells.append(line.split("|")[1].strip())
        elif started:
            break
    return cells


def _signature(fn: object) -> str:
    """`name(params)` as the guide writes it: parameter names and defaults, no annotations."""
    parts = []
    signature = inspect.signature(fn)  # type: ignore[arg-type]
    kinds = [p.kind for p in signature.parameters.values()]
    for i, param in enumerate(signature.parameters.values()):
        if param.name == "self":
            continue
        if param.kind == param.KEYWORD_ONLY and (i == 0 or kinds[i - 1] not in (
                param.KEYWORD_ONLY, param.VAR_POSITIONAL)):
            parts.append("*")
        text = param.name if param.kind != param.VAR_POSITIONAL else f"*{param.name}"
        if param.kind == param.VAR_KEYWORD:
            text = f"**{param.name}"
        if param.default is not param.empty:
            text += f"={param.default!r}"
        parts.append(text)
        if param.kind == param.POSITIONAL_ONLY and (
                i + 1 == len(kinds) or kinds[i + 1] != param.POSITIONAL_ONLY):
            parts.append("/")
    return f"({', '.join(parts)})"


def test_every_facade_name_in_the_table_exists_and_every_export_is_listed() -> None:
    listed = {name for cell in _table("## 1. Import from `deskpilot` only")
              for name in re.findall(r"`(\w+)`", cell)}
    missing = sorted(name for name in listed if not hasattr(deskpilot, name))
    assert not missing, f"the guide names what the facade lacks: {missing}"
    undocumented = sorted(set(deskpilot.__all__) - listed - {"AgentFactory", "ChatEndpoint",
                                                               "Event", "StepRun"})
    assert not undocumented, f"exported but not in the guide's table: {undocumented}"


@pytest.mark.parametrize("cell", _table("## 2. The Platform"))
def test_every_platform_member_exists_with_its_documented_signature(cell: str) -> None:
    documented = cell.strip("`")
    name, _, params = documented.partition("(")
    member = getattr(deskpilot.Platform, name, None)
    assert member is not None, f"Platform has no {name}"
    if params:
        assert f"{name}{_signature(member)}" == documented
    else:
        assert isinstance(member, property), f"{name} is documented as a property"


def test_every_platform_member_is_in_the_guide() -> None:
    documented = {cell.strip("`").partition("(")[0] for cell in _table("## 2. The Platform")}
    members = {name for name in vars(deskpilot.Platform)
               if not name.startswith("_") and name not in {"register"}}
    assert members - documented == set(), members - documented


@pytest.mark.parametrize("cell", _table("## 3. Hooks"))
def test_every_hook_exists_with_its_documented_arguments(cell: str) -> None:
    documented = cell.strip("`")
    name, _, params = documented.partition("(")
    spec = getattr(_hooks, name, None)
    assert spec is not None and hasattr(spec, "deskpilot_spec"), f"no hook {name}"
    assert _signature(spec) == f"({params}"


def test_every_hook_is_in_the_guide() -> None:
    documented = {cell.strip("`").partition("(")[0] for cell in _table("## 3. Hooks")}
    hooks = {name for name, fn in vars(_hooks).items() if hasattr(fn, "deskpilot_spec")}
    assert hooks == documented


@pytest.mark.parametrize("module, names", [
    (module, [n.strip() for n in names.split(",")])
    for module, names in re.findall(r"^from (deskpilot(?:\.[\w.]+)?) import ([\w, ]+)$",
                                    GUIDE, re.M)
])
def test_imports_in_the_examples_exist(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    assert all(hasattr(imported, name) for name in names), (module, names)


def _section(heading: str) -> str:
    rest = GUIDE.split(heading, 1)[1]
    return rest.split("\n## ", 1)[0]


def test_the_tool_guide_documents_every_tool_option_and_run_context_field() -> None:
    import dataclasses
    import typing

    section = _section("## 6. Writing a tool")
    options = {name for name, hint in typing.get_type_hints(deskpilot.AgentTool).items()
               if "ClassVar" in str(hint)}
    fields = {f"call.{field.name}" for field in dataclasses.fields(deskpilot.ToolCall)}
    methods = {f"call.{name}" for name, member in vars(deskpilot.ToolCall).items()
               if callable(member) and not name.startswith("_")}
    missing = sorted(name for name in options | fields | methods if f"`{name}" not in section)
    assert not missing, f"section 6 does not document: {missing}"
    keywords = set(inspect.signature(deskpilot.tool).parameters) - {"fn"}
    assert not sorted(k for k in keywords if f"{k}=" not in section and f"`{k}`" not in section)


def test_the_connector_section_documents_every_connector_member() -> None:
    section = _section("## 5. Writing a connector")
    members = {name for name in vars(deskpilot.Connector) if not name.startswith("_")}
    missing = sorted(name for name in members if not re.search(rf"\b{name}\b", section))
    assert not missing, f"section 5 does not document Connector members: {missing}"


def test_the_indexing_table_matches_how_tickets_are_chunked() -> None:
    from deskpilot.knowledge.text import RESOLVED_STATUSES, chunk_document

    section = _section("## 5. Writing a connector").split("### What gets indexed", 1)[1]
    for status in RESOLVED_STATUSES:
        assert f"`{status}`" in section
    note = deskpilot.Comment(body="Internal: refund approved.", public=False)
    reply = deskpilot.Comment(body="We refunded you.", public=True)
    for status in ("open", *RESOLVED_STATUSES):
        ticket = deskpilot.Ticket(id="1", subject="Refund", description="Refund me please.",
                                  comments=[reply, note], status=status)
        chunks = chunk_document("desk", ticket)
        # Every ticket chunk is internal, as the table says: tickets reach staff only.
        assert chunks and {c.audience for c in chunks} == {deskpilot.Audience.INTERNAL}
        conversation = any("We refunded you" in c.text for c in chunks)
        assert conversation == (status in RESOLVED_STATUSES)
        assert any("refund approved" in c.text and c.note for c in chunks)


def test_the_kit_helpers_named_in_the_guide_exist() -> None:
    from deskpilot import testkit

    section = _section("## 10. Test with the contract kit")
    for name in ("run_agent", "ScriptedModel", "StubPlatform", "ToolRun"):
        assert f"`{name}" in section and hasattr(testkit, name)
    assert f"run_agent{_signature(testkit.run_agent)}" in section.replace("`", "")
