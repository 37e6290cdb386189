"""Admin routes: /v1/search and /v1/sync need the admin token (or serve's per-start token)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from deskpilot.connectors.local import DEMO_PATH
from deskpilot.core.app import create_app
from deskpilot.core.services import Services
from tests.knowledge.conftest import make_services  # noqa: F401 - fixture


def test_search_and_sync_need_the_admin_token(
    make_services: Callable[..., Services],  # noqa: F811
) -> None:
    services = make_services({"demo": {"type": "local", "path": str(DEMO_PATH / "billing")}})
    services.settings.server.admin_token = SecretStr("s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    with TestClient(create_app(services=services)) as client:
        assert client.get("/v1/search", params={"q": "refund"}).status_code == 401
        assert client.post("/v1/sync/demo").status_code == 401
        assert client.get("/v1/search", params={"q": "refund"},
                          headers={"Authorization": "Bearer wrong"}).status_code == 401
        run = client.post("/v1/sync/demo", headers=auth)
        assert run.status_code == 200 and run.json()["added"] == 4
        assert client.post("/v1/sync/nope", headers=auth).status_code == 404
        found = client.get("/v1/search", params={"q": "refund policy 14 days", "k": 2},
                           headers=auth)
        assert found.status_code == 200
        passage = found.json()["passages"][0]
        assert {"score", "title", "url", "document_id", "text"} <= set(passage)
        assert passage["document_id"] == "refund-policy"
        runs = client.get("/v1/sync", headers=auth).json()
        assert runs["demo"][0]["added"] == 4
        # Was: 200 {} for a name that is no connector (a typo read as "no runs yet").
        typo = client.get("/v1/sync", params={"connector": "dmeo"}, headers=auth)
        assert typo.status_code == 404
        assert typo.json()["error"] == "no connector named 'dmeo' (configured: demo)"


def test_serve_writes_server_json_and_accepts_its_token(
    make_services: Callable[..., Services], tmp_path: Path,  # noqa: F811
) -> None:
    import json
    import stat

    empty = tmp_path / "empty"
    empty.mkdir()
    services = make_services({"demo": {"type": "local", "path": str(empty)}})
    server_file = services.settings.data_dir / "server.json"
    with TestClient(create_app(services=services, serving=True)) as client:
        info = json.loads(server_file.read_text())
        assert stat.S_IMODE(server_file.stat().st_mode) == 0o600
        assert client.get("/healthz").status_code == 200
        ok = client.get("/v1/sync", headers={"Authorization": f"Bearer {info['token']}"})
        assert ok.status_code == 200
    assert not server_file.exists()
