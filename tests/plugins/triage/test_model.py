"""TriageModel on real data: learns banking77 intents from a slice of train, abstains on
clinc150 out-of-scope queries, and survives a save/load round trip unchanged."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from deskpilot._embedder import EmbedderSettings
from deskpilot.plugins.embedders import LocalEmbedder
from deskpilot.plugins.triage.model import TriageModel
from tests.conftest import SHARED_DATA, require_shared_data
from tests.plugins.helpers import HashEmbedder

DATA = SHARED_DATA
CLASSES, TRAIN_PER_CLASS, HELD_PER_CLASS = 12, 40, 10


def _rows(path: Path) -> list[dict[str, str]]:
    require_shared_data(path)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def split() -> dict[str, list[tuple[str, str]]]:
    by_label: dict[str, list[str]] = defaultdict(list)
    for row in _rows(DATA / "banking77" / "train.jsonl"):
        by_label[row["category"]].append(row["text"])
    labels = sorted(by_label)[:CLASSES]
    return {
        "train": [(t, lab) for lab in labels for t in by_label[lab][:TRAIN_PER_CLASS]],
        "held": [(t, lab) for lab in labels
                 for t in by_label[lab][TRAIN_PER_CLASS : TRAIN_PER_CLASS + HELD_PER_CLASS]],
        "oos": [(r["text"], r["intent"]) for r in _rows(DATA / "clinc150" / "oos_val.jsonl")],
    }


@pytest.fixture(scope="module")
def model(split: dict[str, list[tuple[str, str]]]) -> TriageModel:
    texts, labels = zip(*split["train"], strict=True)
    return TriageModel.fit(list(texts), list(labels), LocalEmbedder(EmbedderSettings()))


@pytest.mark.slow
def test_predicts_held_out_tickets_well_above_chance(
    model: TriageModel, split: dict[str, list[tuple[str, str]]]
) -> None:
    texts, labels = zip(*split["held"], strict=True)
    predictions = model.predict(list(texts))
    accuracy = sum(p.label == gold for p, gold in zip(predictions, labels, strict=True))
    assert accuracy / len(labels) > 0.8  # chance is 1/12
    assert all(0 <= p.confidence <= 1 and len(p.alternatives) == 3 for p in predictions)
    answered = [p for p in predictions if not p.abstained]
    assert len(answered) >= 0.8 * len(predictions)


@pytest.mark.slow
def test_abstains_on_out_of_scope_text(
    model: TriageModel, split: dict[str, list[tuple[str, str]]]
) -> None:
    predictions = model.predict([text for text, _ in split["oos"]])
    assert sum(p.abstained for p in predictions) / len(predictions) > 0.7
    assert model.predict(["what is the airspeed velocity of an unladen swallow"])[0].abstained


@pytest.mark.slow
def test_save_load_round_trip_predicts_identically(
    model: TriageModel, split: dict[str, list[tuple[str, str]]], tmp_path: Path
) -> None:
    model.save(tmp_path / "category")
    loaded = TriageModel.load(tmp_path / "category", model.embedder)
    texts = [text for text, _ in split["held"][:20] + split["oos"][:20]]
    assert loaded.predict(texts) == model.predict(texts)


def test_rejects_empty_and_mismatched_input() -> None:
    embedder = HashEmbedder()
    with pytest.raises(ValueError, match="at least two labels"):
        TriageModel.fit([], [], embedder)
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        TriageModel.fit(["refund please", "cannot log in"], ["billing"], embedder)
    with pytest.raises(ValueError, match="at least two labels"):
        TriageModel.fit(["refund please", "charged twice"], ["billing", "billing"], embedder)
