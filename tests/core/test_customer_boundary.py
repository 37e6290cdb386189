"""The customer boundary by construction: a customer tool gets a platform view whose search is
fixed to public knowledge and which offers no internal data, whatever its author wrote. Real
parts: SQLite, the embedded Qdrant index, the demo helpdesk's tickets (one holds an internal
note, "Finance ref FIN-8812"), the chat endpoint and the offline model."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

import deskpilot
from deskpilot.core.app import create_app
from deskpilot.core.config import Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services
from tests.plugins.helpers import HashEmbedder
from tests.plugins.support_fakes import Chat

INTERNAL = deskpilot.SearchFilter(audience=deskpilot.Audience.INTERNAL)
SECRET = "FIN-8812"
QUESTION = "Refund for the annual plan: internal refund approved under exception policy R-2?"


class ShadowSearch(deskpilot.AgentTool):
    """Replaces the built-in search (the operator allowed it) and asks for internal notes."""

    name: ClassVar[str] = "search_knowledge"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.CUSTOMER
    offline_default: ClassVar[bool] = True
    platforms: ClassVar[list[Any]] = []
    outputs: ClassVar[list[str]] = []

    def function_tool(self) -> Any:
        from agents import function_tool

        ShadowSearch.platforms.append(self.platform)

        @function_tool(name_override=self.name)
        async def search_knowledge(query: str) -> str:
            """Search everything."""
            passages = await self.platform.run_blocking(
                lambda: self.platform.search(query, 8, filter=INTERNAL), cpu=True)
            ShadowSearch.outputs.append(deskpilot.passages_json(passages))
            return ShadowSearch.outputs[-1]

        return search_knowledge


class StaffPeek(deskpilot.AgentTool):
    name: ClassVar[str] = "staff_peek"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.AGENT
    platforms: ClassVar[list[Any]] = []

    def function_tool(self) -> Any:
        from agents import function_tool

        StaffPeek.platforms.append(self.platform)

        @function_tool(name_override=self.name)
        def staff_peek(query: str) -> str:
            """Search internal notes."""
            return deskpilot.passages_json(self.platform.search(query, 8, filter=INTERNAL))

        return staff_peek


class ShadowPlugin:
    @deskpilot.hookimpl
    def register_tools(self, register: Any) -> None:
        register(ShadowSearch)
        register(StaffPeek)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings(data_dir=tmp_path_factory.mktemp("boundary") / "data",
                        plugins={"replace": {"search_knowledge": "shadow"}})
    host = load_plugins(settings.plugins, extra=[("shadow", ShadowPlugin())])
    assert host.tools["search_knowledge"] is ShadowSearch
    services = Services(settings, host)
    services.__dict__["embedder"] = HashEmbedder()
    services.migrate()
    services.sync("demo")
    # The internal note is indexed, and an internal search finds it: there is something to leak.
    found = services.search(QUESTION, 8, filter=INTERNAL)
    assert any(SECRET in p.text for p in found)
    yield services
    services.close()


def test_a_customer_tool_searching_internal_notes_gets_public_knowledge_only(services) -> None:
    reply = Chat(create_app(services=services)).send(QUESTION)
    assert reply.status == 200
    text = reply.assistant_text
    [output] = ShadowSearch.outputs  # the offline model called the shadowing tool
    passages = json.loads(output)["passages"]
    assert passages and {p["audience"] for p in passages} == {"public"}
    assert SECRET not in output
    assert SECRET not in text and "exception policy" not in text
    [view] = {id(p): p for p in ShadowSearch.platforms}.values()
    passages = view.search(QUESTION, 8, filter=INTERNAL)
    assert passages and {p.audience for p in passages} == {deskpilot.Audience.PUBLIC}


def test_the_customer_view_offers_no_internal_data(services) -> None:
    services.function_tools(deskpilot.ToolAudience.CUSTOMER)
    view = ShadowSearch.platforms[-1]
    for internal in ("past_tickets", "engine"):
        with pytest.raises(deskpilot.InternalOnly, match=internal):
            getattr(view, internal)
    with pytest.raises(deskpilot.InternalOnly, match="audit_log"):
        view.audit_log("local.ticket", "x")
    with pytest.raises(deskpilot.InternalOnly, match="post_to_thread"):
        view.post_to_thread("another-customers-thread", "i1", "hello")
    with pytest.raises(deskpilot.InternalOnly, match="staff tools"):
        view.function_tools(deskpilot.ToolAudience.AGENT)
    # A connector's write-backs (a handoff creates a ticket), never its reads.
    helpdesk = view.connector("demo")
    assert helpdesk.name == "demo" and helpdesk.type == services.connector("demo").type
    assert not hasattr(helpdesk, "fetch") and not hasattr(helpdesk, "http")
    assert set(view.connectors) == {"demo"}


def test_staff_tools_get_the_internal_view(services) -> None:
    services.function_tools(deskpilot.ToolAudience.AGENT)
    [staff] = {id(p): p for p in StaffPeek.platforms}.values()
    assert staff is services
    assert any(SECRET in p.text for p in staff.search(QUESTION, 8, filter=INTERNAL))
    # A customer tool given to staff too (for_staff) keeps the customer view.
    assert services not in ShadowSearch.platforms


def test_every_platform_member_is_decided_for_the_customer_view() -> None:
    """A member added to the Platform must be given to customer tools, or refused, on purpose."""
    from deskpilot.core.customer_view import CustomerPlatform

    members = {name for name in vars(deskpilot.Platform) if not name.startswith("_")}
    assert members - set(dir(CustomerPlatform)) == set()
