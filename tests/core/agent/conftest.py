"""Fixtures for agent tests: platform services with a stub searcher, so no embedding model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from agents import Agent, RunConfig, Runner, RunResult, RunResultStreaming
from pydantic import SecretStr

from deskpilot import Audience, DocumentKind
from deskpilot._search import Passage, SearchFilter
from deskpilot.core.agent import build_customer_agent
from deskpilot.core.config import Settings
from deskpilot.core.plugins import load_plugins
from deskpilot.core.services import Services
from deskpilot.knowledge.index.calibration import UNCALIBRATED_WEIGHT

NO_TRACES = RunConfig(tracing_disabled=True)  # never upload from tests


def configure_provider(services: Services, provider: str, url: str) -> None:
    """`provider` (openai, openai-compatible) at `url`, a fake of its wire format."""
    services.settings.agent.provider = provider  # type: ignore[assignment]
    services.settings.agent.base_url = url
    services.settings.agent.api_key = SecretStr("test-key")


async def run_agent(agent: Agent, question: str, stream: bool) -> RunResult | RunResultStreaming:
    """One run, streamed or not; a streamed run's text deltas must add up to its answer."""
    if not stream:
        return await Runner.run(agent, question, run_config=NO_TRACES)
    result = Runner.run_streamed(agent, question, run_config=NO_TRACES)
    deltas = [e.data.delta async for e in result.stream_events()
              if e.type == "raw_response_event" and e.data.type == "response.output_text.delta"]
    assert "".join(deltas) == result.final_output
    return result


def passage(title: str, text: str, score: float, url: str | None = None,
            audience: Audience = Audience.PUBLIC) -> Passage:
    return Passage(score=score, document_id=title.lower().replace(" ", "-"), title=title,
                   text=text, url=url, source="demo", kind=DocumentKind.ARTICLE,
                   audience=audience)


@dataclass
class StubSearcher:
    """Returns fixed passages and records every call, filter included."""

    passages: list[Passage]
    calls: list[tuple[str, int, SearchFilter | None, bool]] = field(default_factory=list)
    weight: float = UNCALIBRATED_WEIGHT

    def search(self, query: str, k: int, filter: SearchFilter | None = None,
               per_document: bool = False) -> list[Passage]:
        self.calls.append((query, k, filter, per_document))
        if filter is not None and filter.audience is not None:
            return [p for p in self.passages if p.audience == filter.audience][:k]
        return self.passages[:k]

    def lexical_weight(self) -> float:  # λ in the scores, as the real Searcher says
        return self.weight


RESET_PASSWORD = passage(
    "Reset your password",
    "Reset your password\nOpen the sign-in page and choose Forgot password. "
    "We email you a reset link that stays valid for 30 minutes. "
    "Follow the link and pick a new password of at least 12 characters.",
    1.2,
    "https://help.example.com/articles/reset-password",
)
TWO_FACTOR = passage(
    "Two-factor authentication",
    "Two-factor authentication\nAfter you reset your password, sign in again with your "
    "authenticator app code. Lost your device? Use a backup code.",
    0.9,
    "https://help.example.com/articles/2fa",
)
INTERNAL_NOTE = passage(
    "Password reset escalations", "Internal: agents may reset passwords by hand in the admin "
    "console after checking the customer's identity.", 2.0, None, Audience.INTERNAL,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def searcher() -> StubSearcher:
    return StubSearcher([INTERNAL_NOTE, RESET_PASSWORD, TWO_FACTOR])


@pytest.fixture
def services(settings: Settings, searcher: StubSearcher) -> Services:
    services = Services(settings, load_plugins(settings.plugins))
    services.searcher = searcher  # type: ignore[misc] - replaces the cached property
    return services


@pytest.fixture(scope="module")
def demo_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """The customer agent over the demo help center, synced into a real index (and model)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo") / "data")
    services = Services(settings, load_plugins(settings.plugins))
    services.migrate()
    services.sync("demo")
    yield build_customer_agent(services)
    services.index.close()
