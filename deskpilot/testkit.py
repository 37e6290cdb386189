"""Contract tests for Deskpilot plugins: subclass one, point it at your class, run pytest.

    from deskpilot.testkit import ConnectorContract

    class TestMyHelpdesk(ConnectorContract):
        @pytest.fixture
        def connector(self):
            return MyHelpdeskConnector("test", MyHelpdeskConnector.Options(...),
                                       transport=httpx.MockTransport(fake_api))

        @pytest.fixture
        def private_comment_bodies(self):
            return ["internal: refund approved"]

Every rule failure names its rule (`[deskpilot:<rule>]`) and the offending record. The module is
also a pytest plugin (entry point `pytest11: deskpilot`): it marks contract tests with
`deskpilot_contract`, so `pytest -m deskpilot_contract` runs only them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NoReturn

import pytest
from pydantic import ValidationError

from deskpilot._connector import Capability, Connector, NotSupported
from deskpilot._documents import (
    Article,
    CustomerMessage,
    DocumentRef,
    SyncPage,
    Ticket,
    TicketConversation,
)
from deskpilot._embedder import Embedder
from deskpilot._search import Passage, SearchFilter
from deskpilot._tools import TOOL_NAME, ToolAudience

__all__ = ["ConnectorContract", "EmbedderContract", "RelayContract", "ScriptedModel",
           "StubPlatform", "ToolContract", "ToolRun", "run_agent", "violation"]

_WRITE_BACKS = {
    Capability.NOTES: "add_note",
    Capability.TAGS: "add_tags",
    Capability.TICKETS: "create_ticket",
    Capability.WEBHOOKS: "verify_webhook",
    Capability.RELAY: "conversation",
}


def violation(rule: str, message: str) -> NoReturn:
    """Fail the current test, loudly naming the broken rule (no traceback into the kit)."""
    pytest.fail(f"[deskpilot:{rule}] {message}", pytrace=False)


# -- connectors -----------------------------------------------------------------------------
def _run(connector: Connector, checkpoint: dict[str, Any] | None, max_pages: int
         ) -> list[SyncPage]:
    pages: list[SyncPage] = []
    for page in connector.fetch(checkpoint):
        pages.append(page)
        if len(pages) > max_pages:
            violation("terminates", f"fetch({checkpoint!r}) yielded more than {max_pages} pages; "
                      "it never reaches the end (a cursor that does not advance?)")
    return pages


def _keys(pages: list[SyncPage]) -> Iterator[tuple[str, ...]]:
    """One key per record version: a record re-synced unchanged yields the same key."""
    for page in pages:
        for doc in page.documents:
            stamp = doc.updated_at.isoformat() if doc.updated_at else ""
            yield (doc.kind, doc.id, stamp)
        for ref in page.deleted:
            yield ("deleted", str(ref.kind), ref.id)


def _naive_datetimes(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _naive_datetimes(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _naive_datetimes(item, f"{path}[{index}]")


def _persisted(checkpoint: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    """The checkpoint as the sync engine stores it: through JSON."""
    try:
        return json.loads(json.dumps(checkpoint))
    except (TypeError, ValueError) as exc:
        error = exc
    violation("checkpoint-json", f"{where} checkpoint {checkpoint!r} is not JSON: {error}")


class ConnectorContract:
    """Rules every helpdesk connector keeps. Provide a `connector` fixture wired to a fake."""

    #: A run longer than this is taken to be endless.
    max_pages: ClassVar[int] = 500

    #: False only for a helpdesk that has no private comments or internal notes at all: then
    #: the private-comments rule has nothing to check. Otherwise leaving the fixture out fails.
    has_private_comments: ClassVar[bool] = True

    @pytest.fixture
    def private_comment_bodies(self) -> list[str]:
        """Text of comments the fake holds as private/internal: override it (required unless
        `has_private_comments = False`)."""
        return []

    #: False only for a connector whose documents come whole with its listing, so that no
    #: request of one document's own can fail: then the document-failure rule has nothing to
    #: check. Otherwise leaving the `failing_document` fixture out fails.
    has_document_requests: ClassVar[bool] = True

    @pytest.fixture
    def failing_document(self) -> tuple[Connector, DocumentRef] | None:
        """A connector on the same fake except that one document's own request fails (say a
        404 on one ticket's comments), and that document's ref: override it (required unless
        `has_document_requests = False`)."""
        return None

    def full_run(self, connector: Connector) -> list[SyncPage]:
        return _run(connector, None, self.max_pages)

    def test_pages_are_sync_pages(self, connector: Connector) -> None:
        for index, page in enumerate(self.full_run(connector)):
            if not isinstance(page, SyncPage):
                violation("sync-page", f"page {index} is a {type(page).__name__}, not a SyncPage")
            try:
                SyncPage.model_validate(page.model_dump())
            except ValidationError as exc:
                violation("sync-page", f"page {index} does not validate as a SyncPage: {exc}")

    def test_ids_unique_within_a_run(self, connector: Connector) -> None:
        pages = self.full_run(connector)
        docs = Counter((doc.kind, doc.id) for page in pages for doc in page.documents)
        refs = Counter((str(ref.kind), ref.id) for page in pages for ref in page.deleted)
        repeated = sorted(k for k, n in docs.items() if n > 1)
        repeated += sorted(("deleted", *k) for k, n in refs.items() if n > 1)
        if repeated:
            violation("unique-ids", f"one run yielded these (kind, id) more than once: {repeated}")
        if both := sorted(set(docs) & set(refs)):
            violation("unique-ids", f"one run both yielded and deleted these (kind, id): {both}; "
                      "the index cannot tell whether they exist (yield a record, or its "
                      "DocumentRef in SyncPage.deleted, not both)")

    def test_every_page_carries_a_json_checkpoint(self, connector: Connector) -> None:
        for index, page in enumerate(self.full_run(connector)):
            if page.checkpoint is None:
                violation("checkpoint-every-page", f"page {index} has no checkpoint: a run "
                          "interrupted after it would restart from the beginning")
            if _persisted(page.checkpoint, f"page {index}") != page.checkpoint:
                violation("checkpoint-json", f"page {index} checkpoint {page.checkpoint!r} "
                          "changes through JSON (tuples, non-str keys?)")

    def test_resume_from_any_checkpoint_loses_and_repeats_nothing(
        self, connector: Connector
    ) -> None:
        pages = self.full_run(connector)
        for index, page in enumerate(pages):
            checkpoint = _persisted(page.checkpoint, f"page {index}")
            resumed = set(_keys(_run(connector, checkpoint, self.max_pages)))
            before = set(_keys(pages[: index + 1]))
            after = set(_keys(pages[index + 1 :]))
            if repeated := sorted(resumed & before):
                violation("checkpoint-monotone", f"resuming from page {index}'s checkpoint "
                          f"{checkpoint!r} yielded records already synced up to that page: "
                          f"{repeated} (the cursor went backwards)")
            if lost := sorted(after - resumed):
                violation("checkpoint-resume", f"resuming from page {index}'s checkpoint "
                          f"{checkpoint!r} lost records a full run yields after it: {lost}")

    def test_timestamps_are_timezone_aware(self, connector: Connector) -> None:
        for index, page in enumerate(self.full_run(connector)):
            if naive := list(_naive_datetimes(page.model_dump(), f"page[{index}]")):
                violation("timezone-aware", f"naive timestamps (no timezone) at {naive}")

    def test_private_comments_stay_private(
        self, connector: Connector, private_comment_bodies: list[str]
    ) -> None:
        if not private_comment_bodies:
            if not self.has_private_comments:
                return  # declared: this helpdesk has no private comments to keep private
            violation("private-comments", f"{type(self).__name__} has no "
                      "private_comment_bodies fixture: return the text of the private comments "
                      "(internal notes) your fake holds, so the kit can check they stay "
                      "public=False and out of public fields (or set has_private_comments = "
                      "False for a helpdesk that has none)")
        docs = [doc for page in self.full_run(connector) for doc in page.documents]
        for marker in private_comment_bodies:
            kept_private = False
            for doc in docs:
                public_texts: list[tuple[str, str]] = []
                if isinstance(doc, Ticket):
                    public_texts += [("subject", doc.subject), ("description", doc.description)]
                    for n, comment in enumerate(doc.comments):
                        if comment.public:
                            public_texts.append((f"comments[{n}] (public=True)", comment.body))
                        elif marker in comment.body:
                            kept_private = True
                elif isinstance(doc, Article):
                    public_texts.append(("body_html", doc.body_html))
                for field, text in public_texts:
                    if marker in text:
                        violation("private-comments", f"private text {marker!r} appears in "
                                  f"{doc.kind} {doc.id} {field}: internal notes must stay "
                                  "public=False")
            if not kept_private:
                violation("private-comments", f"no comment with public=False contains "
                          f"{marker!r}: the private comment was dropped or never fetched")

    def test_one_documents_failed_request_does_not_sink_the_run(
        self, connector: Connector, failing_document: tuple[Connector, DocumentRef] | None
    ) -> None:
        if failing_document is None:
            if not self.has_document_requests:
                return  # declared: a document has no request of its own that could fail
            violation("document-failure", f"{type(self).__name__} has no failing_document "
                      "fixture: return a connector on your fake where one document's own "
                      "request fails (a 404 on one ticket's comments) and that document's "
                      "DocumentRef, so the kit can check the run goes on and records it (or "
                      "set has_document_requests = False if a document has no request of its "
                      "own)")
        broken, ref = failing_document
        healthy = {(str(d.kind), d.id) for p in self.full_run(connector) for d in p.documents}
        try:
            pages = self.full_run(broken)
        except Exception as exc:
            violation("document-failure", f"fetch(None) raised {type(exc).__name__}: {exc} when "
                      f"only {ref.kind} {ref.id} failed: one document's failed request must be a "
                      "DocumentFailure (with its ref) in its page, and the run must go on")
        target = (str(ref.kind), ref.id)
        failures = [f for p in pages for f in p.failures
                    if f.ref is not None and (str(f.ref.kind), f.ref.id) == target]
        if not failures:
            violation("document-failure", f"no DocumentFailure with ref {target} in the run: "
                      "the failed document was dropped silently (it would never be retried)")
        got = {(str(d.kind), d.id) for p in pages for d in p.documents}
        if lost := sorted(healthy - got - {target}):
            violation("document-failure", f"documents lost because {target} failed: {lost}")
        if not failures[0].error.strip():
            violation("document-failure", f"the failure of {target} says nothing (empty error)")
        try:  # later runs fetch it again by id
            again = broken.refetch([ref])
        except NotSupported:
            return  # retried when the listing brings it again
        accounted = ({(str(r.kind), r.id) for r in again.deleted}
                     | {(str(f.ref.kind), f.ref.id) for f in again.failures if f.ref}
                     | {(str(d.kind), d.id) for d in again.documents})
        if target not in accounted:
            violation("document-failure", f"refetch([{target}]) on the same broken fake said "
                      "nothing of it: each ref comes back as a document, a deletion or a "
                      "failure again")
        healed = {(str(d.kind), d.id) for d in connector.refetch([ref]).documents}
        if target not in healed:
            violation("document-failure", f"refetch([{target}]) on the healthy fake did not "
                      "return it as a document")

    def test_capabilities_match_methods(self, connector: Connector) -> None:
        cls = type(connector)
        for capability, method in _WRITE_BACKS.items():
            implemented = getattr(cls, method) is not getattr(Connector, method)
            declared = capability in cls.capabilities
            if declared and not implemented:
                violation("capabilities", f"{cls.__name__} declares {capability.value!r} but "
                          f"does not implement {method}()")
            if implemented and not declared:
                violation("capabilities", f"{cls.__name__} implements {method}() but does not "
                          f"declare Capability.{capability.name} in capabilities")


# -- relay ----------------------------------------------------------------------------------
class RelayContract:
    """Rules a connector declaring `Capability.RELAY` keeps. Provide fixtures: `connector`
    (wired to a fake), `relay_ticket` (the id of a ticket in the fake that holds a person's
    public reply and an internal note), `agent_reply_bodies` and `internal_note_bodies` (their
    texts). Each test writes to that ticket: give each a fresh fake."""

    def _read(self, connector: Connector, ticket: str) -> TicketConversation:
        conversation = connector.conversation(ticket)
        if not isinstance(conversation, TicketConversation):
            violation("relay-conversation", f"conversation({ticket!r}) returned "
                      f"{type(conversation).__name__}, not a TicketConversation")
        if conversation.ticket_id != ticket:
            violation("relay-conversation", f"conversation({ticket!r}) is about ticket "
                      f"{conversation.ticket_id!r}")
        return conversation

    def test_declares_relay_and_implements_both_methods(self, connector: Connector) -> None:
        cls = type(connector)
        if Capability.RELAY not in cls.capabilities:
            violation("relay-capability", f"{cls.__name__} does not declare Capability.RELAY")
        for method in ("conversation", "add_customer_message"):
            if getattr(cls, method) is getattr(Connector, method):
                violation("relay-capability", f"{cls.__name__} declares RELAY but does not "
                          f"implement {method}()")

    def test_ids_are_unique_and_stable(self, connector: Connector, relay_ticket: str) -> None:
        first, second = self._read(connector, relay_ticket), self._read(connector, relay_ticket)
        ids = [m.id for m in first.messages]
        if repeated := sorted(i for i, n in Counter(ids).items() if n > 1):
            violation("relay-ids", f"message ids repeat within one read: {repeated}")
        if ids != [m.id for m in second.messages]:
            violation("relay-ids", f"two reads of ticket {relay_ticket!r} gave different ids "
                      f"or order: {ids} then {[m.id for m in second.messages]} (relay "
                      "deduplicates on them: a changing id is a message posted twice)")
        if naive := [m.id for m in first.messages
                     if m.created_at is not None and m.created_at.utcoffset() is None]:
            violation("timezone-aware", f"messages {naive} have naive created_at")

    def test_replies_are_public_and_notes_internal(
        self, connector: Connector, relay_ticket: str, agent_reply_bodies: list[str],
        internal_note_bodies: list[str]
    ) -> None:
        messages = self._read(connector, relay_ticket).messages
        for body in agent_reply_bodies:
            found = [m for m in messages if body in m.body]
            if not any(m.public and m.author_role == "agent" for m in found):
                violation("relay-replies", f"no public agent message contains {body!r}: "
                          f"{[(m.author_role, m.public, m.body[:40]) for m in messages]}")
        for body in internal_note_bodies:
            found = [m for m in messages if body in m.body]
            if not found:
                violation("relay-notes", f"the internal note {body!r} was not read at all "
                          "(read it, with public=False)")
            if leaked := [m.id for m in found if m.public]:
                violation("relay-notes", f"internal note {body!r} is public=True in messages "
                          f"{leaked}: it would reach the customer's chat")

    def test_customer_message_lands_once(self, connector: Connector, relay_ticket: str) -> None:
        message = CustomerMessage(key="deskpilot-contract-1", body="Contract kit: order 4411",
                                  customer_id="user:contract", customer_email="kit@example.com")
        connector.add_customer_message(relay_ticket, message)
        connector.add_customer_message(relay_ticket, message)  # a retry after a lost answer
        landed = [m for m in self._read(connector, relay_ticket).messages
                  if "order 4411" in m.body]
        if not landed:
            violation("relay-customer", "add_customer_message left no message on the ticket")
        if len(landed) > 1:
            violation("relay-customer", f"the same message (same key) landed {len(landed)} "
                      "times: a retried write must add nothing")
        if not (landed[0].public and landed[0].author_role == "customer"):
            violation("relay-customer", f"the customer's message reads as author_role="
                      f"{landed[0].author_role!r}, public={landed[0].public}: it must be the "
                      "requester's public comment (else it is relayed back as a reply)")


# -- embedders ------------------------------------------------------------------------------
class EmbedderContract:
    """Rules every embedder keeps. Provide an `embedder` fixture."""

    sample_texts: ClassVar[list[str]] = [
        "How do I reset my password?",
        "Refunds are processed within five business days.",
        "Das Konto wurde gesperrt.",
        "",
    ]
    #: How far from unit length a vector may be.
    norm_tolerance: ClassVar[float] = 1e-2
    #: How far a batched vector may differ from the same text embedded alone (padding noise).
    batch_tolerance: ClassVar[float] = 1e-4

    def test_dimension_matches_vectors(self, embedder: Embedder) -> None:
        vectors = embedder.embed_documents(self.sample_texts)
        if len(vectors) != len(self.sample_texts):
            violation("embedder-dimension", f"{len(self.sample_texts)} texts gave "
                      f"{len(vectors)} vectors")
        for vector in [*vectors, embedder.embed_query("password reset")]:
            if len(vector) != embedder.dimension:
                violation("embedder-dimension", f"a vector has {len(vector)} components, "
                          f"dimension says {embedder.dimension}")

    def test_deterministic(self, embedder: Embedder) -> None:
        first = embedder.embed_documents(self.sample_texts)
        second = embedder.embed_documents(self.sample_texts)
        for text, a, b in zip(self.sample_texts, first, second, strict=True):
            if any(not math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, b, strict=True)):
                violation("embedder-deterministic", f"{text!r} embedded twice differs")

    def test_vectors_are_normalized(self, embedder: Embedder) -> None:
        for text, vector in zip(self.sample_texts, embedder.embed_documents(self.sample_texts),
                                strict=True):
            norm = math.sqrt(sum(float(x) ** 2 for x in vector))
            if abs(norm - 1.0) > self.norm_tolerance:
                violation("embedder-normalized", f"{text!r} has norm {norm:.4f}, not ~1")

    def test_batching_matches_singles(self, embedder: Embedder) -> None:
        batched = embedder.embed_documents(self.sample_texts)
        for text, vector in zip(self.sample_texts, batched, strict=True):
            alone = embedder.embed_documents([text])[0]
            gap = max(abs(float(x) - float(y)) for x, y in zip(vector, alone, strict=True))
            if gap > self.batch_tolerance:
                violation("embedder-batching", f"{text!r} in a batch differs from alone by {gap}")

    def test_empty_batch(self, embedder: Embedder) -> None:
        if (result := list(embedder.embed_documents([]))) != []:
            violation("embedder-empty", f"embed_documents([]) returned {result!r}, not []")


# -- tools ----------------------------------------------------------------------------------
class ToolContract:
    """Rules every agent tool keeps. Provide a `tool` fixture (an instance)."""

    def test_name(self, tool: Any) -> None:
        name = getattr(type(tool), "name", None)
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            violation("tool-name", f"name {name!r} is not 1-64 letters, digits, '_' or '-'")

    def test_audience(self, tool: Any) -> None:
        audience = getattr(type(tool), "audience", None)
        if not isinstance(audience, ToolAudience):
            violation("tool-audience", f"audience {audience!r} is not a ToolAudience: the "
                      "customer agent could not tell whether it may use this tool")

    def test_function_tool(self, tool: Any) -> None:
        function_tool = tool.function_tool()
        name = getattr(function_tool, "name", None)
        if not isinstance(name, str) or not name:
            violation("tool-function", f"function_tool() returned {function_tool!r} without "
                      "a name")
        schema = getattr(function_tool, "params_json_schema", None)
        if not isinstance(schema, dict) or schema.get("type") != "object":
            violation("tool-function", f"function_tool() params_json_schema {schema!r} is not "
                      "a JSON schema of type object")
        try:
            json.dumps(schema)
        except (TypeError, ValueError) as exc:
            violation("tool-function", f"params_json_schema is not JSON: {exc}")
        registered = getattr(type(tool), "name", None)
        if name != registered:
            violation("tool-function-name", f"function_tool() is named {name!r} but the tool "
                      f"registers as {registered!r}: the model would call a name the host "
                      f"does not know (use function_tool(name_override=self.name))")


# -- watching an agent use a tool -------------------------------------------------------------
class StubPlatform:
    """Enough of a `deskpilot.Platform` for a tool under test: its settings (`settings_for`
    answers from `settings`), a search over fixed `passages` (honouring the audience filter),
    `run_blocking` in a thread, `shared`, and `audit`/`emit` recorded in `audits`/`events`."""

    def __init__(self, settings: Iterable[Any] = (), passages: Iterable[Passage] = ()) -> None:
        self._settings = {type(instance): instance for instance in settings}
        self.passages = list(passages)
        self.audits: list[tuple[str, str, dict[str, Any]]] = []
        self.events: list[Any] = []
        self._shared: dict[Any, Any] = {}

    def settings_for(self, model: type[Any]) -> Any:
        if model not in self._settings:
            raise LookupError(f"StubPlatform(settings=[...]) has no {model.__name__}")
        return self._settings[model]

    def search(self, query: str, k: int = 5, filter: SearchFilter | None = None,
               per_document: bool = False) -> list[Passage]:
        audience = filter.audience if filter is not None else None
        return [p for p in self.passages if audience is None or p.audience == audience][:k]

    async def run_blocking(self, fn: Any, /, *args: Any, cpu: bool = False) -> Any:
        import asyncio

        return await asyncio.to_thread(fn, *args)

    def shared(self, factory: Any) -> Any:
        if factory not in self._shared:
            self._shared[factory] = factory(self)
        return self._shared[factory]

    def audit(self, kind: str, subject: str = "", **data: Any) -> None:
        self.audits.append((kind, subject, data))

    def emit(self, event: Any) -> None:
        self.events.append(event)


@dataclass
class ToolRun:
    """What an agent did with one customer message: the tool calls (name, arguments, output)
    in order, and its reply."""

    calls: list[tuple[str, dict[str, Any], str]]
    reply: str


def ScriptedModel(*calls: tuple[str, dict[str, Any]],  # noqa: N802 - reads as a class
                  reply: str | list[str] | None = None) -> Any:
    """A stand-in for an LLM: its first turn calls the scripted tools `(name, arguments)`, its
    second replies with `reply` (default: the tools' outputs, one per line). What a real model
    would do, deterministic and offline, so a test can watch the agent call a tool. A list of
    replies is answered in turn, one per run: a model whose answers vary (pass^k tests)."""
    from deskpilot.core.agent.scripted import ScriptedModel as Scripted

    return Scripted(list(calls), reply)


def run_agent(tools: Iterable[Any], message: str, model: Any = None,
              user_id: str = "user:test", verified: bool = True) -> ToolRun:
    """Run the agents Runner once on `message` with `tools` (AgentTool instances) and `model`
    (default: the offline model, which calls a tool whose `examples` the message matches).
    The tools' `ToolCall` says the caller is `user_id`, `verified` or not."""
    import asyncio

    from agents import Agent, RunConfig, Runner

    from deskpilot._chat import RequestContext
    from deskpilot.core.agent.offline import OfflineModel
    from deskpilot.core.agent.offline_tools import OfflineTrigger

    tools = list(tools)
    if model is None:
        triggers = tuple(t for t in (OfflineTrigger.of(type(tool)) for tool in tools) if t)
        search = next((type(t).name for t in tools if type(t).offline_default), None)
        model = OfflineModel(search, triggers)

    class _Context:  # what a chat run's context offers tools: who is asking
        request_context = RequestContext(user_id=user_id, verified=verified)
        thread = None

    agent = Agent(name="under test", instructions="test", model=model,
                  tools=[tool.function_tool() for tool in tools])
    result = asyncio.run(Runner.run(agent, message, context=_Context(),
                                    run_config=RunConfig(tracing_disabled=True)))
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    outputs: list[tuple[str, dict[str, Any], str]] = []
    for item in result.to_input_list():
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "function_call":
            calls[item["call_id"]] = (item["name"], json.loads(item.get("arguments") or "{}"))
        elif kind == "function_call_output" and item["call_id"] in calls:
            outputs.append((*calls[item["call_id"]], str(item["output"])))
    return ToolRun(outputs, str(result.final_output or ""))


# -- pytest plugin --------------------------------------------------------------------------
_CONTRACTS = (ConnectorContract, EmbedderContract, RelayContract, ToolContract)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deskpilot_contract(kind): a Deskpilot plugin contract test (deskpilot.testkit)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        cls = getattr(item, "cls", None)
        for contract in _CONTRACTS:
            if cls is not None and issubclass(cls, contract):
                item.add_marker(pytest.mark.deskpilot_contract(contract.__name__))
