"""Built-in embedders: offline MiniLM, and OpenAI against a fake speaking its wire format."""

from __future__ import annotations

import json
import math

import httpx
import openai
import pytest

from deskpilot.core.config import ConfigError, EmbedderSettings, PluginSettings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import make_embedder
from deskpilot.plugins.embedders import LocalEmbedder, OpenAIEmbedder


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.slow
def test_local_model_gives_normalized_384d_vectors_with_meaning() -> None:
    embedder = LocalEmbedder(EmbedderSettings(batch_size=2))
    reset, forgot, shipping = embedder.embed_documents(
        ["How do I reset my password?", "I forgot my password and cannot log in",
         "Which countries do you ship to?"]
    )
    assert embedder.dimension == len(reset) == 384
    assert all(abs(_norm(v) - 1) < 1e-4 for v in (reset, forgot, shipping))
    assert _dot(reset, forgot) > _dot(reset, shipping) + 0.3
    assert embedder.embed_query("How do I reset my password?") == pytest.approx(reset, abs=1e-5)
    assert embedder.embed_documents([]) == []


@pytest.mark.slow
def test_local_model_loads_once_per_process() -> None:
    first = LocalEmbedder(EmbedderSettings())
    second = LocalEmbedder(EmbedderSettings(batch_size=8))
    assert first.model is second.model


class FakeEmbeddingsAPI:
    """POST /v1/embeddings as documented: `data` items carry `index`; here returned reversed, so
    the client must reorder. Vectors are deliberately not unit length."""

    def __init__(self, fail_first_with: int | None = None) -> None:
        self.requests: list[dict] = []
        self.fail_first_with = fail_first_with

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/v1/embeddings"
        assert request.headers["authorization"] == "Bearer test-key"
        if self.fail_first_with is not None:
            status, self.fail_first_with = self.fail_first_with, None
            return httpx.Response(status, headers={"retry-after": "0"},
                                  json={"error": {"message": "slow down", "type": "rate_limit"}})
        body = json.loads(request.content)
        self.requests.append(body)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 3.0, 4.0]}
            for i, text in enumerate(body["input"])
        ]
        return httpx.Response(200, json={
            "object": "list", "data": data[::-1], "model": body["model"],
            "usage": {"prompt_tokens": 5, "total_tokens": 5},
        })


def _openai(fake: FakeEmbeddingsAPI, **settings: object) -> OpenAIEmbedder:
    client = openai.OpenAI(
        api_key="test-key", base_url="http://fake.test/v1", max_retries=2,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
    )
    return OpenAIEmbedder(EmbedderSettings(name="openai", **settings), client=client)


def test_openai_batches_keeps_order_and_normalizes() -> None:
    fake = FakeEmbeddingsAPI()
    embedder = _openai(fake, batch_size=2)
    vectors = embedder.embed_documents(["a", "bb", "ccc", "dddd", "eeeee"])
    assert [len(r["input"]) for r in fake.requests] == [2, 2, 1]
    assert {r["model"] for r in fake.requests} == {"text-embedding-3-small"}
    assert [round(v[0] * _norm([len(t), 3.0, 4.0]), 6) for v, t in
            zip(vectors, ["a", "bb", "ccc", "dddd", "eeeee"], strict=True)] == [1, 2, 3, 4, 5]
    assert all(abs(_norm(v) - 1) < 1e-9 for v in vectors)
    assert embedder.dimension == 1536


def test_openai_other_model_probes_its_dimension() -> None:
    embedder = _openai(FakeEmbeddingsAPI(), model="nomic-embed-text")
    assert embedder.dimension == 3


def test_openai_retries_a_rate_limit() -> None:
    fake = FakeEmbeddingsAPI(fail_first_with=429)
    assert len(_openai(fake).embed_documents(["x"])) == 1
    assert len(fake.requests) == 1


def test_openai_client_from_settings() -> None:
    embedder = OpenAIEmbedder(EmbedderSettings(
        name="openai", api_key="sk-x", base_url="http://127.0.0.1:11434/v1"))
    assert str(embedder.client.base_url) == "http://127.0.0.1:11434/v1/"
    assert embedder.client.api_key == "sk-x"


def test_openai_without_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="api_key"):
        OpenAIEmbedder(EmbedderSettings(name="openai")).embed_documents(["x"])


def test_builtins_register_through_the_plugin_host() -> None:
    host = load_plugins(PluginSettings(allow=["embedders"]))
    assert host.embedders["local"] is LocalEmbedder
    assert host.embedders["openai"] is OpenAIEmbedder
    assert isinstance(make_embedder(host.embedders, EmbedderSettings()), LocalEmbedder)


def test_unknown_embedder_names_the_installed_ones() -> None:
    registry = {"local": LocalEmbedder, "openai": OpenAIEmbedder}
    with pytest.raises(ConfigError, match=r"unknown embedder 'nope' \(installed: local, openai\)"):
        make_embedder(registry, EmbedderSettings(name="nope"))
