"""Attachments are private: 0600 files in a 0700 folder, whatever the umask."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import mode

from .conftest import MakeApp
from .protocol import ChatClient


def test_attachments_are_private_under_an_open_umask(make_app: MakeApp, tmp_path: Path,
                                                     open_umask: None) -> None:
    app, _ = make_app(allowed_attachment_types=["text/plain"])
    client = ChatClient(app)
    attachment = client.create_attachment("a.txt", 5, "text/plain").json()
    assert client.upload(attachment["upload_descriptor"]["url"], b"hello",
                         "text/plain").status_code == 200
    folder = tmp_path / "attachments"
    assert mode(folder) == 0o700
    assert mode(folder / attachment["id"]) == 0o600
