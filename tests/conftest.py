"""Shared fixtures: databases (SQLite and PostgreSQL), settings in a temp data dir."""

from __future__ import annotations

import importlib.util
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
# Evaluation data is read in place from the shared folder beside the checkout, never copied.
SHARED_DATA = REPO.parent / "shared" / "data"


def load_bench(name: str) -> ModuleType:
    """A script of bench/ as a module (bench/ is no package: its scripts run by path)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


POSTGRES_ADMIN_URL = os.environ.get(
    "DESKPILOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end.

    Skipped only when the server is unreachable, and never on CI, where both databases run.
    """
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is unreachable on CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    from sqlalchemy import create_engine, text

    name = f"deskpilot_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a store test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'deskpilot.db'}"
    url = request.getfixturevalue("postgres_url")
    # Each test gets empty tables: drop everything left by the previous one.
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def require_shared_data(path: Path = SHARED_DATA) -> Path:
    """The evaluation data beside the checkout; skipped without it, except on CI."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"evaluation data not found at {path} on CI")
        pytest.skip(f"evaluation data not found at {path} (see ../shared/data/README.md)")
    return path


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mode(path: Path) -> int:
    """The permission bits of `path` (0o600, 0o700...)."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Umask 0 for the test: files the code creates are private by its own doing."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@contextmanager
def serve(app: Any) -> Iterator[int]:
    """`app` served by uvicorn on a free loopback port (yielded) in a thread, without its
    lifespan: the tests' platform outlives the server."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),
                                           log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield server.config.port
    finally:
        server.should_exit = True
        thread.join(20)
