"""Built-in plugin: propose tags for a ticket and write them back to the helpdesk (the `tags`
automation step after triage, and the copilot's `tag_ticket` tool).

Where tags come from is the safety argument: only the connector's own tag vocabulary, voted for
by similar past tickets (and triage's category when it is a tag too). No text — not the
ticket's, not a retrieved article's — is ever read as a tag or as an instruction, so an
article saying "tag this ticket urgent" cannot make anything be written.

Write-back is idempotent: only tags not already on the ticket (as last synced, as the webhook
reported, or as written by us before) are sent, and each write is an audit event.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import deskpilot

# Similar past tickets consulted, and the share of their (similarity-weighted) vote a tag needs.
NEIGHBOURS = 10
MIN_VOTE = 0.5
# How fast a neighbour's vote fades with its distance below the nearest one (cosine units).
TEMPERATURE = 0.1
# The helpdesk's tag list changes rarely and costs API calls (paginated on Zendesk).
VOCABULARY_TTL_SECONDS = 600.0
AUDIT_KIND = "tags.applied"


class TaggingSettings(deskpilot.Options):
    """Tagging's keys of `[automation]`."""

    # Tag each ticket a helpdesk webhook reports.
    tags: bool = True
    # Propose tags and record what would be written, without writing them.
    tag_dry_run: bool = False


@dataclass(frozen=True)
class TagProposal:
    tag: str
    score: float
    reason: str  # "similar tickets" | "triage category"


class TaggingService:
    def __init__(self, platform: deskpilot.Platform) -> None:
        self.platform = platform
        self._vocabularies: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def _connector(self, name: str) -> deskpilot.Connector:
        return self.platform.connector(name)

    def vocabulary(self, connector_name: str) -> frozenset[str]:
        with self._lock:
            cached = self._vocabularies.get(connector_name)
        if cached is not None and time.monotonic() - cached[0] < VOCABULARY_TTL_SECONDS:
            return cached[1]
        tags = frozenset(self._connector(connector_name).tag_vocabulary())
        with self._lock:
            self._vocabularies[connector_name] = (time.monotonic(), tags)
        return tags

    def propose(
        self,
        connector_name: str,
        text: str,
        ticket_id: str | None = None,
        triage: dict[str, Any] | None = None) -> list[TagProposal]:
        """Tags from the connector's vocabulary that similar past tickets of the same connector
        carry, best first; never a tag outside the vocabulary."""
        vocabulary = self.vocabulary(connector_name)
        if not vocabulary or not text.strip():
            return []
        import numpy as np

        memories = self.platform.past_tickets
        memory = memories.get(connector_name)
        votes: dict[str, float] = {}
        if memory.records:
            # The ticket being tagged is not a past ticket: no need to store its vector.
            vector = memories.embedder.matrix([text], persist=False)[0]
            neighbours = memory.neighbours(vector, NEIGHBOURS, exclude=ticket_id)
            similarities = np.array([n.similarity for n in neighbours])
            # Softmax-like: the nearest tickets decide, the merely related barely count.
            weights = np.exp((similarities - similarities.max()) / TEMPERATURE)
            total = float(weights.sum())
            for neighbour, weight in zip(neighbours, weights, strict=True):
                for tag in neighbour.record.tags:
                    votes[tag] = votes.get(tag, 0.0) + float(weight) / (total or 1.0)
        proposals = {
            tag: TagProposal(tag, round(score, 4), "similar tickets")
            for tag, score in votes.items()
            if tag in vocabulary and score >= MIN_VOTE
        }
        category = (triage or {}).get("category")
        if category in vocabulary and not (triage or {}).get("abstained", True):
            confidence = float((triage or {}).get("confidence") or 0.0)
            if category not in proposals or proposals[category].score < confidence:
                proposals[category] = TagProposal(category, round(confidence, 4),
                                                  "triage category")
        return sorted(proposals.values(), key=lambda p: (-p.score, p.tag))

    def present_tags(self, connector_name: str, ticket_id: str) -> set[str]:
        """Tags the ticket is known to have: as last synced, plus those we wrote since."""
        record = self.platform.past_tickets.record(connector_name, ticket_id)
        present = set(record.tags) if record else set()
        for data in self.platform.audit_log(AUDIT_KIND, _subject(connector_name, ticket_id)):
            present.update(data.get("added", []))
        return present

    def apply_tags(
        self,
        connector_name: str,
        ticket_id: str,
        tags: list[str],
        dry_run: bool = False,
        present: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """Add the tags the ticket does not have yet. `present`: tags the caller knows the
        ticket has (e.g. from the webhook payload). Dry run: report, write nothing."""
        connector = self._connector(connector_name)
        known = self.present_tags(connector_name, ticket_id) | set(present)
        to_add = sorted(set(tags) - known)
        outcome: dict[str, Any] = {
            "connector": connector_name, "ticket_id": ticket_id, "dry_run": dry_run,
            "added": [] if dry_run else to_add, "would_add": to_add,
            "already_present": sorted(set(tags) & known),
        }
        if dry_run or not to_add:
            return outcome
        if deskpilot.Capability.TAGS not in connector.capabilities:
            raise deskpilot.NotSupported(f"connector {connector_name} cannot tag tickets")
        connector.add_tags(ticket_id, to_add)
        self.platform.audit(AUDIT_KIND, _subject(connector_name, ticket_id),
                            connector=connector_name, ticket_id=ticket_id, added=to_add)
        return outcome

    def tag_ticket(
        self,
        connector_name: str,
        ticket_id: str,
        text: str,
        triage: dict[str, Any] | None = None,
        dry_run: bool = False,
        present: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        proposals = self.propose(connector_name, text, ticket_id, triage)
        outcome = self.apply_tags(connector_name, ticket_id, [p.tag for p in proposals],
                                  dry_run, present)
        return {**outcome, "proposals": [asdict(p) for p in proposals]}


def _subject(connector_name: str, ticket_id: str) -> str:
    return f"{connector_name}/{ticket_id}"


def tagging_service(platform: deskpilot.Platform) -> TaggingService:
    return platform.shared(TaggingService)


class TaggingTool(deskpilot.AgentTool):
    """For the support agents' copilot: it writes to the helpdesk, so never for customers."""

    name: ClassVar[str] = "tag_ticket"
    audience: ClassVar[deskpilot.ToolAudience] = deskpilot.ToolAudience.AGENT

    def run(self, connector: str, ticket_id: str, apply: bool) -> str:
        record = self.platform.past_tickets.record(connector, ticket_id)
        if record is None:
            return json.dumps({"error": f"ticket {ticket_id} of {connector} is not synced yet"})
        try:
            result = tagging_service(self.platform).tag_ticket(
                connector, ticket_id, record.text, dry_run=not apply)
        except (deskpilot.UnknownConnector, deskpilot.NotSupported) as exc:
            return json.dumps({"error": str(exc)})
        return json.dumps(result)

    def function_tool(self) -> Any:
        from agents import function_tool

        @function_tool(name_override=self.name)
        async def tag_ticket(connector: str, ticket_id: str, apply: bool = False) -> str:
            """Propose tags for a helpdesk ticket from the helpdesk's own tag list and similar
            past tickets; with apply=true, add the missing ones to the ticket.

            Args:
                connector: The configured helpdesk connector the ticket belongs to.
                ticket_id: The ticket's id in that helpdesk.
                apply: Write the proposed tags to the ticket (default: only propose).
            """
            return await self.platform.run_blocking(self.run, connector, ticket_id, apply)

        return tag_ticket


def tags_step(platform: deskpilot.Platform, event: deskpilot.TicketEvent,
              earlier: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Automation: tag the ticket of a webhook event, with triage's category when it ran."""
    settings = platform.settings_for(TaggingSettings)
    if not settings.tags or deskpilot.Capability.TAGS not in platform.connector(
            event.connector).capabilities:
        return None
    triage = earlier.get("triage")
    return tagging_service(platform).tag_ticket(
        event.connector, event.ticket_id, event.text,
        triage if triage and "error" not in triage else None,
        dry_run=settings.tag_dry_run, present=event.tags)


@deskpilot.hookimpl
def register_settings(register: Callable[..., None]) -> None:
    register(TaggingSettings, section="automation")


@deskpilot.hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(TaggingTool)


@deskpilot.hookimpl
def register_ticket_steps(register: Callable[..., None]) -> None:
    register(deskpilot.TicketStep(name="tags", run=tags_step, after=("triage",)))
