"""Fixtures for the support tools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deskpilot.core.app import create_app
from deskpilot.core.services import Services
from tests.plugins.helpers import make_services


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    services = make_services(tmp_path)
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as client:
        yield client
