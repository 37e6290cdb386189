"""TriageModel on real data: learns banking77 intents from a slice of train, abstains on
clinc150 out-of-scope queries, and survives a save/load round trip unchanged; its abstention
rule on hand-built vectors; how the eval scores an abstention."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch

from deskpilot._embedder import EmbedderSettings
from deskpilot.plugins.embedders import LocalEmbedder
from deskpilot.plugins.triage import model as model_module
from deskpilot.plugins.triage.evaluation import score
from deskpilot.plugins.triage.model import MAX_THRESHOLD, TriageModel
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


# -- the abstention rule on hand-built unit vectors ---------------------------------------------
def _around(rng: np.random.Generator, centre: np.ndarray, cosine: float, n: int) -> np.ndarray:
    """`n` unit vectors at exactly `cosine` to `centre`, in random directions around it."""
    noise = rng.normal(size=(n, len(centre)))
    noise -= (noise @ centre)[:, None] * centre
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return (cosine * centre + np.sqrt(1 - cosine**2) * noise).astype(np.float32)


def _clusters(cosine: float, labels: int = 12, per_label: int = 4
              ) -> tuple[np.random.Generator, np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(labels, 64))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.concatenate([_around(rng, c, cosine, per_label) for c in centres])
    return rng, centres, vectors, [f"label{i}" for i in range(labels) for _ in range(per_label)]


def test_tight_clusters_of_few_tickets_do_not_route_paraphrases_to_a_person() -> None:
    # Four near-identical tickets per label: out-of-fold, every right answer is ~0.95 sure, and
    # a threshold taken from them alone would route any rewording to a person.
    rng, centres, vectors, labels = _clusters(cosine=0.97)
    model = TriageModel.fit_vectors(vectors, labels, HashEmbedder())
    assert model.threshold == MAX_THRESHOLD
    paraphrases = np.concatenate([_around(rng, c, 0.75, 5) for c in centres])
    predictions = model.predict_vectors(paraphrases)
    assert [p.label for p in predictions] == [f"label{i}" for i in range(12) for _ in range(5)]
    assert not any(p.abstained for p in predictions)


def test_a_ticket_unlike_any_past_one_is_routed_though_one_label_wins_the_vote() -> None:
    rng, centres, vectors, labels = _clusters(cosine=0.8)
    model = TriageModel.fit_vectors(vectors, labels, HashEmbedder())
    far = model.predict_vectors(_around(rng, centres[0], 0.35, 20))
    assert all(p.abstained for p in far)
    assert sum(p.label == "label0" for p in far) >= 15  # routed, mostly with the right hint
    near = model.predict_vectors(_around(rng, centres[0], 0.8, 20))
    assert all(not p.abstained and p.label == "label0" for p in near)
    assert min(p.confidence for p in near) > max(p.confidence for p in far)


def test_a_model_saved_with_the_former_confidence_is_refused(tmp_path: Path) -> None:
    _, _, vectors, labels = _clusters(cosine=0.8)
    TriageModel.fit_vectors(vectors, labels, HashEmbedder()).save(tmp_path / "category")
    meta_path = tmp_path / "category" / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({**meta, "format": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match="unsupported triage model format 1"):
        TriageModel.load(tmp_path / "category", HashEmbedder())


def test_accuracy_with_abstention_counts_an_abstention_right_only_out_of_scope() -> None:
    figures = score(labels=["refund", "login", "refund", "refund"],
                    abstained=[False, False, True, True],
                    gold=["refund", "refund", "oos", "login"], abstain_label="oos")
    # right label, wrong label, abstained on out-of-scope (right), abstained in scope (wrong)
    assert figures["accuracy"] == 0.5
    assert figures["in_scope_accuracy"] == round(1 / 3, 4)
    assert figures["out_of_scope_recall"] == 1.0
    assert figures["abstain_rate"] == 0.5
    assert figures["answered_accuracy"] == 0.5
    without = score(["refund", "login"], [False, True], ["refund", "login"])
    assert without["accuracy"] == 0.5  # no abstain label: an abstention is wrong


def test_the_out_of_fold_threshold_is_raised_then_capped() -> None:
    # A model trained on every ticket is closer to new in-scope tickets than the out-of-fold
    # ones were: their lowest right confidence, raised, is the threshold (budget 0).
    confidence = np.array([0.30, 0.35, 0.40, 0.20])
    correct = np.array([True, True, True, False])
    assert model_module._threshold(confidence, correct, 0.0) == pytest.approx(
        0.30 + model_module.OUT_OF_FOLD_RAISE)
    assert model_module._threshold(confidence + 0.4, correct, 0.0) == MAX_THRESHOLD


def test_training_uses_few_torch_threads_and_gives_the_pool_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    train_head = model_module._train_head

    def recording(*args: object) -> object:
        seen.append(torch.get_num_threads())
        return train_head(*args)

    monkeypatch.setattr(model_module, "_train_head", recording)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _, _, vectors, labels = _clusters(cosine=0.8)
        TriageModel.fit_vectors(vectors, labels, HashEmbedder())
        assert seen and set(seen) == {model_module.TRAIN_THREADS}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_eval_triage_names_a_bad_line(tmp_path: Path) -> None:
    # Was: "cannot evaluate: JSONDecodeError: Expecting value: line 1 column 1 (char 0)".
    from typer.testing import CliRunner

    from deskpilot.core.cli import build_app

    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text('{"text": "my card is lost", "category": "card"}\n\noops\n',
                       encoding="utf-8")
    result = CliRunner().invoke(build_app(), ["eval", "triage", "--train", str(tickets),
                                              "--test", str(tickets), "--json"])
    assert result.exit_code == 1
    assert "tickets.jsonl:3: not JSON" in result.output and "Traceback" not in result.output
