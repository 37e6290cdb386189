"""Triage a ticket — category (queue), priority and intent — or abstain.

One `TriageModel` per labelled field, trained on the connector's labelled past tickets
(`platform.past_tickets`, kept by the sync engine) with the platform embedder. A sync marks the
models stale; the next prediction retrains them if the tickets changed, and persists them under
`<data_dir>/models/triage/`, so a restart does not retrain. When the model is unsure (its
threshold is calibrated on the training tickets only) triage abstains: a person routes it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import deskpilot

from .model import TriageModel
from .settings import TriageSettings

log = logging.getLogger(__name__)

#: Labelled fields of a past ticket that triage predicts, when tickets carry them.
FIELDS = ("category", "priority", "intent")
# Below this many labelled tickets (or with a single label) a field is not learned.
MIN_EXAMPLES = 2
_ALL = "_all"  # model key for triage across every connector's tickets
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class TicketNotFound(LookupError):
    pass


@dataclass
class _Models:
    fingerprint: str
    embedder_id: str
    models: dict[str, TriageModel]
    generation: int


class TriageService:
    def __init__(self, platform: deskpilot.Platform) -> None:
        self.platform = platform
        self._models: dict[str | None, _Models] = {}
        self._lock = threading.Lock()
        # Bumped after each sync (`sync_finished`): a model checks its tickets' fingerprint
        # again only then, not on every prediction.
        self.sync_generation = 0

    def _directory(self, connector: str | None) -> Path:
        key = _UNSAFE.sub("_", connector) if connector else _ALL
        return Path(self.platform.settings.data_dir) / "models" / "triage" / key

    # -- models -------------------------------------------------------------------------------
    def models(self, connector: str | None) -> dict[str, TriageModel]:
        """The trained models of `connector` (None: all connectors' tickets), retrained first
        if a sync changed the tickets since."""
        held = self._models.get(connector)
        if held is not None and held.generation == self.sync_generation:
            return held.models
        with self._lock:
            generation = self.sync_generation
            memories = self.platform.past_tickets
            current = memories.fingerprint(connector)
            if held is None or held.fingerprint != current:
                held = self._load(connector, memories.embedder)
            if held is None or held.fingerprint != current:
                held = self._train(connector, memories.get(connector), memories.embedder)
            held.generation = generation
            self._models[connector] = held
            return held.models

    def _load(self, connector: str | None, embedder: Any) -> _Models | None:
        directory = self._directory(connector)
        try:
            meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
            if meta["embedder"] != self.platform.embedder.identity:
                return None
            models = {name: TriageModel.load(directory / name, embedder)
                      for name in meta["fields"]}
        except (OSError, ValueError, KeyError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.warning("triage models in %s unreadable, retraining: %s", directory, exc)
            return None
        return _Models(meta["fingerprint"], meta["embedder"], models, -1)

    def _train(self, connector: str | None, memory: deskpilot.TicketMemory, embedder: Any
               ) -> _Models:
        models: dict[str, TriageModel] = {}
        for name in FIELDS:
            pairs = [(r.text, getattr(r, name)) for r in memory.records if getattr(r, name)]
            if len(pairs) < MIN_EXAMPLES or len({label for _, label in pairs}) < 2:
                continue
            texts, labels = zip(*pairs, strict=True)
            models[name] = TriageModel.fit(
                list(texts), list(labels), embedder,
                max_missed=self.platform.settings_for(TriageSettings).triage_max_missed,
            )
        held = _Models(memory.fingerprint, self.platform.embedder.identity, models, -1)
        self._save(connector, held)
        log.info("triage for %s trained on %d tickets: %s", connector or "all connectors",
                 len(memory.records), ", ".join(models) or "nothing labelled")
        return held

    def _save(self, connector: str | None, held: _Models) -> None:
        directory = self._directory(connector)
        staging = directory.with_name(directory.name + ".new")
        try:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            for name, model in held.models.items():
                model.save(staging / name)
            (staging / "meta.json").write_text(json.dumps({
                "fingerprint": held.fingerprint, "embedder": held.embedder_id,
                "fields": sorted(held.models)}), encoding="utf-8")
            # Swap whole: a crash mid-save leaves the old models or none, never a mix.
            shutil.rmtree(directory, ignore_errors=True)
            staging.rename(directory)
        except OSError as exc:  # the models still serve from memory
            log.warning("could not persist triage models to %s: %s", directory, exc)

    # -- predictions --------------------------------------------------------------------------
    def triage_text(self, text: str, connector: str | None = None) -> dict[str, Any]:
        """Category, priority and intent with their confidences. `abstained` is the routing
        decision: no confident category means a person should look."""
        models = self.models(connector)
        fields: dict[str, dict[str, Any]] = {}
        for name in FIELDS:
            model = models.get(name)
            if model is None or not text.strip():
                continue
            prediction = model.predict([text])[0]
            fields[name] = {
                "label": None if prediction.abstained else prediction.label,
                # The best guess even when unsure: a hint for the person routing the ticket.
                "suggestion": prediction.label,
                "confidence": round(float(prediction.confidence), 4),
                "abstained": bool(prediction.abstained),
                "alternatives": [
                    {"label": label, "confidence": round(float(score), 4)}
                    for label, score in prediction.alternatives
                ],
            }
        category = fields.get("category", {})
        return {
            "category": category.get("label"),
            "priority": fields.get("priority", {}).get("label"),
            "intent": fields.get("intent", {}).get("label"),
            "confidence": category.get("confidence", 0.0),
            "abstained": category.get("abstained", True),
            "fields": fields,
        }

    def triage_ticket(self, connector: str, ticket_id: str, text: str | None = None
                      ) -> dict[str, Any]:
        """Triage a helpdesk ticket (its text given, or as last synced) and tell plugins."""
        if text is None:
            record = self.platform.past_tickets.record(connector, ticket_id)
            if record is None:
                raise TicketNotFound(f"ticket {ticket_id} of {connector} has not been synced")
            text = record.text
        result = self.triage_text(text, connector)
        self.platform.emit(deskpilot.TicketTriaged(connector=connector, ticket_id=ticket_id,
                                                   result=result))
        return result


def triage_service(platform: deskpilot.Platform) -> TriageService:
    return platform.shared(TriageService)
