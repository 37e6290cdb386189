"""Chat fixtures: an app on a temp SQLite database whose agent is the scripted stand-in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from core.app import create_app
from core.chat.runtime import build_chat
from core.config import ChatSettings, Settings
from core.services import Services

from .protocol import ChatClient
from .scripted import ScriptedAgent

SECRET = "host-site-shared-secret"

MakeApp = Callable[..., tuple[FastAPI, ScriptedAgent]]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """Build an app over `data_dir` (default: this test's temp dir) with chat settings."""
    opened: list[Services] = []

    def make(data_dir: Path | None = None, **chat: Any) -> tuple[FastAPI, ScriptedAgent]:
        settings = Settings(data_dir=data_dir or tmp_path, chat=ChatSettings(**chat),
                            connectors={})
        services = Services(settings)
        services.migrate()  # what the app's lifespan does; TestClient here runs without it
        opened.append(services)
        app = create_app(services=services)
        agent = ScriptedAgent()
        app.state.chat = build_chat(services, agent.build, agent.run_config)
        return app, agent

    yield make
    for services in opened:
        services.engine.dispose()


@pytest.fixture
def app(make_app: MakeApp) -> FastAPI:
    return make_app(identity_secret=SECRET)[0]


@pytest.fixture
def client(app: FastAPI) -> ChatClient:
    return ChatClient(app)
