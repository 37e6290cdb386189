"""The plugin contract kit fails loudly, naming the rule, for each kind of broken plugin."""

from __future__ import annotations

import importlib.metadata

import pytest

pytest_plugins = ["pytester"]

# The kit is a pytest11 plugin once deskpilot is installed; in a bare checkout load it by hand.
# Hypothesis' terminal summary costs seconds per inner session and is not under test here.
PLUGIN_ARGS = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"] + ([] if any(
    ep.value == "deskpilot.testkit" for ep in importlib.metadata.entry_points(group="pytest11")
) else ["-p", "deskpilot.testkit"])

CONNECTORS = '''
from datetime import datetime, timezone

import pytest

from deskpilot._connector import Capability, Connector, ConnectorOptions
from deskpilot._documents import Comment, DocumentFailure, DocumentRef, SyncPage, Ticket
from deskpilot.testkit import ConnectorContract


def ticket(n, *, public=False):
    return Ticket(id=str(n), subject=f"subject {n}", description="help",
                  comments=[Comment(body=f"secret note {n}", public=public)],
                  updated_at=datetime(2024, 1, n, tzinfo=timezone.utc))


class Paged(Connector):
    """One ticket per page; checkpoint = index of the next page. Subclasses break one rule."""

    type = "paged"
    capabilities = frozenset({Capability.NOTES})
    tickets = [ticket(n) for n in range(1, 5)]

    def __init__(self):
        super().__init__("test", ConnectorOptions())

    def start(self, checkpoint):
        return (checkpoint or {}).get("next", 0)

    def page(self, index):
        return SyncPage(documents=[self.tickets[index]], checkpoint={"next": index + 1})

    failing = None  # the id of the ticket whose own request fails

    def fetch(self, checkpoint):
        for index in range(self.start(checkpoint), len(self.tickets)):
            page = self.page(index)
            if self.failing in {d.id for d in page.documents}:
                page = self.fail(page)
            yield page

    def fail(self, page):
        ref = DocumentRef(kind="ticket", id=self.failing)
        return SyncPage(documents=[d for d in page.documents if d.id != self.failing],
                        failures=[DocumentFailure(where="ticket", error="404 Not Found", ref=ref)],
                        checkpoint=page.checkpoint)

    def add_note(self, ticket_id, body):
        pass


class Contract(ConnectorContract):
    connector_class = Paged

    @pytest.fixture
    def connector(self):
        return self.connector_class()

    @pytest.fixture
    def private_comment_bodies(self):
        return ["secret note 2"]

    @pytest.fixture
    def failing_document(self):
        broken = self.connector_class()
        broken.failing = "3"
        return broken, DocumentRef(kind="ticket", id="3")
'''


def run_kit(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(CONNECTORS + body)
    return pytester.runpytest(*PLUGIN_ARGS, *args)


def assert_fails(result: pytest.RunResult, rule: str, failed: int = 1) -> None:
    output = result.stdout.str()
    assert f"[deskpilot:{rule}]" in output, output
    result.assert_outcomes(failed=failed, passed=8 - failed)


def test_a_correct_connector_passes(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "class TestGood(Contract):\n    pass\n")
    result.assert_outcomes(passed=8)


def test_repeated_ids_fail(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Repeats(Paged):
    def page(self, index):
        page = super().page(index)
        return page.model_copy(update={"documents": page.documents + [self.tickets[0]]}) \\
            if index == 3 else page

class TestRepeats(Contract):
    connector_class = Repeats
''')
    assert_fails(result, "unique-ids", failed=2)  # the repeat is also a resume repeat
    assert "('ticket', '1')" in result.stdout.str()


def test_a_cursor_that_goes_backwards_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Backwards(Paged):
    def start(self, checkpoint):
        return max(0, super().start(checkpoint) - 1)

class TestBackwards(Contract):
    connector_class = Backwards
''')
    assert_fails(result, "checkpoint-monotone")
    assert "the cursor went backwards" in result.stdout.str()


def test_a_checkpoint_that_skips_ahead_loses_records(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Skips(Paged):
    def start(self, checkpoint):
        return super().start(checkpoint) + (1 if checkpoint else 0)

class TestSkips(Contract):
    connector_class = Skips
''')
    assert_fails(result, "checkpoint-resume")


def test_a_private_comment_marked_public_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Leaks(Paged):
    tickets = [ticket(n, public=(n == 2)) for n in range(1, 5)]

class TestLeaks(Contract):
    connector_class = Leaks
''')
    assert_fails(result, "private-comments")
    assert "'secret note 2' appears in ticket 2 comments[0] (public=True)" in result.stdout.str()


def test_a_dropped_private_comment_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Drops(Paged):
    tickets = [t.model_copy(update={"comments": []}) for t in Paged.tickets]

class TestDrops(Contract):
    connector_class = Drops
''')
    assert_fails(result, "private-comments")
    assert "was dropped or never fetched" in result.stdout.str()


def test_a_naive_timestamp_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Naive(Paged):
    # model_construct skips validation, as a connector optimising for speed might.
    tickets = Paged.tickets[:3] + [Ticket.model_construct(
        id="4", subject="s", description="d", updated_at=datetime(2024, 1, 4))]

class TestNaive(Contract):
    connector_class = Naive
''')
    assert_fails(result, "timezone-aware", failed=2)
    output = result.stdout.str()
    assert "[deskpilot:sync-page] page 3 does not validate" in output
    assert "naive timestamps (no timezone) at ['page[3].documents[0].updated_at']" in output


def test_a_failed_document_request_that_ends_the_run_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, """
class Raises(Paged):
    def fail(self, page):
        raise RuntimeError("404 Client Error for url https://helpdesk.test/tickets/3")

class TestRaises(Contract):
    connector_class = Raises
""")
    assert_fails(result, "document-failure")


def test_a_failed_document_dropped_silently_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, """
class Silent(Paged):
    def fail(self, page):
        return SyncPage(checkpoint=page.checkpoint)

class TestSilent(Contract):
    connector_class = Silent
""")
    assert_fails(result, "document-failure")


def test_a_refetch_that_loses_the_failed_document_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, """
class LosesIt(Paged):
    def refetch(self, refs):
        return SyncPage()  # neither the document, nor a deletion, nor a failure

class TestLosesIt(Contract):
    connector_class = LosesIt
""")
    assert_fails(result, "document-failure")
    assert "refetch([('ticket', '3')]) on the same broken fake said nothing" in (
        result.stdout.str())


def test_a_refetch_that_answers_for_each_document_passes(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, """
class Refetches(Paged):
    def refetch(self, refs):
        page = SyncPage()
        for ref in refs:
            if ref.id == self.failing:
                page.failures.append(DocumentFailure(where="ticket", error="404", ref=ref))
            else:
                page.documents.extend(t for t in self.tickets if t.id == ref.id)
        return page

class TestRefetches(Contract):
    connector_class = Refetches
""")
    result.assert_outcomes(passed=8)


def test_a_checkpoint_that_is_not_json_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Dated(Paged):
    def page(self, index):
        return super().page(index).model_copy(update={"checkpoint": {"seen": {index}}})

class TestDated(Contract):
    connector_class = Dated
''')
    assert "[deskpilot:checkpoint-json]" in result.stdout.str()
    result.assert_outcomes(failed=2, passed=6)


def test_a_page_without_checkpoint_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Forgets(Paged):
    def page(self, index):
        return super().page(index).model_copy(update={"checkpoint": None})

class TestForgets(Contract):
    connector_class = Forgets
''')
    assert "[deskpilot:checkpoint-every-page] page 0 has no checkpoint" in result.stdout.str()


def test_undeclared_or_unimplemented_capabilities_fail(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class Claims(Paged):
    capabilities = frozenset({Capability.NOTES, Capability.TAGS})

class Hides(Paged):
    capabilities = frozenset()

class TestClaims(Contract):
    connector_class = Claims

class TestHides(Contract):
    connector_class = Hides
''')
    output = result.stdout.str()
    assert "Claims declares 'tags' but does not implement add_tags()" in output
    assert "Hides implements add_note() but does not declare Capability.NOTES" in output
    result.assert_outcomes(failed=2, passed=14)


def test_contract_tests_carry_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CONNECTORS + "class TestGood(Contract):\n    pass\n\n"
                        "def test_unrelated():\n    pass\n")
    result = pytester.runpytest(*PLUGIN_ARGS, "-m",
                                "deskpilot_contract", "--strict-markers")
    result.assert_outcomes(passed=8, deselected=1)


EMBEDDERS = '''
import math
import random

import pytest

from deskpilot._embedder import Embedder
from deskpilot.testkit import EmbedderContract


class Hashing(Embedder):
    name = "hashing"
    dimension = 8

    def __init__(self):
        pass

    def vector(self, text):
        rng = random.Random(text)
        raw = [rng.uniform(-1, 1) for _ in range(self.dimension)]
        norm = math.sqrt(sum(x * x for x in raw))
        return [x / norm for x in raw]

    def embed_documents(self, texts):
        return [self.vector(t) for t in texts]
'''


def test_embedder_contract(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(EMBEDDERS + '''
class Unnormalized(Hashing):
    def embed_documents(self, texts):
        return [[2 * x for x in v] for v in super().embed_documents(texts)]

class Random(Hashing):
    def embed_documents(self, texts):
        return [[random.random() for _ in range(8)] for _ in texts]

class TestGood(EmbedderContract):
    @pytest.fixture
    def embedder(self):
        return Hashing()

class TestUnnormalized(EmbedderContract):
    @pytest.fixture
    def embedder(self):
        return Unnormalized()

class TestRandom(EmbedderContract):
    @pytest.fixture
    def embedder(self):
        return Random()
''')
    result = pytester.runpytest(*PLUGIN_ARGS)
    output = result.stdout.str()
    assert "[deskpilot:embedder-normalized]" in output
    assert "[deskpilot:embedder-deterministic]" in output
    assert "[deskpilot:embedder-batching]" in output
    result.assert_outcomes(passed=5 + 4 + 2, failed=1 + 3)


def test_tool_contract(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
from types import SimpleNamespace

import pytest

from deskpilot.testkit import ToolContract
from deskpilot._tools import AgentTool, ToolAudience


class Lookup(AgentTool):
    name = "order_lookup"
    audience = ToolAudience.CUSTOMER

    def function_tool(self):
        return SimpleNamespace(name=self.name, params_json_schema={
            "type": "object", "properties": {"order": {"type": "string"}}})


class Sloppy(Lookup):
    name = "order lookup!"
    audience = "customer"

    def function_tool(self):
        return SimpleNamespace(name="x", params_json_schema=None)


class TestLookup(ToolContract):
    @pytest.fixture
    def tool(self):
        return Lookup(platform=None)


class TestSloppy(ToolContract):
    @pytest.fixture
    def tool(self):
        return Sloppy(platform=None)
''')
    result = pytester.runpytest(*PLUGIN_ARGS)
    output = result.stdout.str()
    for rule in ("tool-name", "tool-audience", "tool-function"):
        assert f"[deskpilot:{rule}]" in output
    result.assert_outcomes(passed=3, failed=3)


def test_leaving_out_the_private_comments_fixture_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class TestForgot(Contract):
    @pytest.fixture
    def private_comment_bodies(self):
        return []
''')
    assert_fails(result, "private-comments")
    assert "TestForgot has no private_comment_bodies fixture" in result.stdout.str()


def test_leaving_out_the_failing_document_fixture_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class TestForgot(Contract):
    @pytest.fixture
    def failing_document(self):
        return None
''')
    assert_fails(result, "document-failure")
    assert "TestForgot has no failing_document fixture" in result.stdout.str()
    assert "skipped" not in result.stdout.str()


def test_a_connector_declared_without_document_requests_passes(
    pytester: pytest.Pytester,
) -> None:
    result = run_kit(pytester, '''
class TestWholeListing(Contract):
    has_document_requests = False

    @pytest.fixture
    def failing_document(self):
        return None
''')
    result.assert_outcomes(passed=8)


def test_a_helpdesk_declared_without_private_comments_passes(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class PublicOnly(Paged):
    tickets = [ticket(n, public=True) for n in range(1, 5)]


class TestPublicOnly(Contract):
    connector_class = PublicOnly
    has_private_comments = False

    @pytest.fixture
    def private_comment_bodies(self):
        return []
''')
    result.assert_outcomes(passed=8)


def test_a_ticket_both_yielded_and_deleted_in_one_run_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, '''
class YieldsAndDeletes(Paged):
    def page(self, index):
        page = super().page(index)
        if index == 3:
            page.deleted.append(DocumentRef(kind="ticket", id="2"))
        return page


class TestYieldsAndDeletes(Contract):
    connector_class = YieldsAndDeletes
''')
    assert_fails(result, "unique-ids")
    assert "both yielded and deleted these (kind, id): [('ticket', '2')]" in result.stdout.str()


def test_a_tool_whose_function_has_another_name_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
from types import SimpleNamespace

import pytest

from deskpilot.testkit import ToolContract
from deskpilot._tools import AgentTool, ToolAudience


class Renamed(AgentTool):
    name = "order_status"
    audience = ToolAudience.CUSTOMER

    def function_tool(self):
        return SimpleNamespace(name="lookup_order", params_json_schema={
            "type": "object", "properties": {}})


class TestRenamed(ToolContract):
    @pytest.fixture
    def tool(self):
        return Renamed(platform=None)
''')
    result = pytester.runpytest(*PLUGIN_ARGS)
    output = result.stdout.str()
    assert "[deskpilot:tool-function-name]" in output
    assert "named 'lookup_order' but the tool registers as 'order_status'" in output
    result.assert_outcomes(passed=2, failed=1)
