"""Two-phase attachment upload: limits, storage on disk, owner-only preview, deletion."""

from __future__ import annotations

from pathlib import Path

from .conftest import MakeApp
from .protocol import ChatClient, request, user_input

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def _create(client: ChatClient, name: str = "shot.png", size: int = len(PNG),
            mime_type: str = "image/png") -> dict:
    response = client.create_attachment(name, size, mime_type)
    assert response.status_code == 200, response.text
    return response.json()


def test_upload_preview_use_and_delete(client: ChatClient, tmp_path: Path) -> None:
    attachment = _create(client)
    assert attachment["type"] == "image" and attachment["id"].startswith("atc_")
    descriptor = attachment["upload_descriptor"]
    assert descriptor["method"] == "POST"
    assert descriptor["url"].endswith(f"/chatkit/attachments/{attachment['id']}/upload")
    preview = attachment["preview_url"]
    assert client.http.get(preview).status_code == 404  # nothing uploaded yet

    uploaded = client.upload(descriptor["url"], PNG, "image/png")
    assert uploaded.status_code == 200, uploaded.text
    assert "upload_descriptor" not in uploaded.json()
    stored = tmp_path / "attachments" / attachment["id"]
    assert stored.read_bytes() == PNG
    assert client.upload(descriptor["url"], PNG, "image/png").status_code == 409

    shown = client.http.get(preview)
    assert shown.status_code == 200 and shown.content == PNG
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["x-content-type-options"] == "nosniff"

    # A message with the attachment; history with an attachment converts without crashing.
    turn = client.create("see the screenshot", attachments=[attachment["id"]])
    assert turn.response.status_code == 200
    user_item = turn.done_items[0]
    assert user_item["attachments"][0]["id"] == attachment["id"]
    # The model is told about the attachment as text (the scripted model joins the parts).
    assert turn.assistant_text == (
        "echo 1: see the screenshot[The customer attached a file: shot.png (image/png)]")
    assert client.add_message(turn.thread_id, "and?").assistant_text == "echo 2: and?"

    deleted = client.delete_attachment(attachment["id"])
    assert deleted.status_code == 200 and deleted.json() == {}
    assert not stored.exists()
    assert client.http.get(preview).status_code == 404
    assert client.delete_attachment(attachment["id"]).status_code == 404


def test_multipart_upload_and_file_attachments(client: ChatClient, tmp_path: Path) -> None:
    attachment = _create(client, "notes.txt", 5, "text/plain")
    assert attachment["type"] == "file"
    response = client.http.post(attachment["upload_descriptor"]["url"],
                                files={"file": ("notes.txt", b"hello", "text/plain")})
    assert response.status_code == 200, response.text
    assert (tmp_path / "attachments" / attachment["id"]).read_bytes() == b"hello"


def test_limits_give_413_and_415_with_a_message(make_app: MakeApp, tmp_path: Path) -> None:
    app, _ = make_app(max_attachment_bytes=50)
    client = ChatClient(app)
    too_big = client.create_attachment("big.png", 51, "image/png")
    assert too_big.status_code == 413 and "limit of 50 bytes" in too_big.json()["error"]
    wrong = client.create_attachment("run.exe", 10, "application/x-msdownload")
    assert wrong.status_code == 415
    assert "application/x-msdownload" in wrong.json()["error"]
    assert "image/png" in wrong.json()["error"]
    # The declared size is checked again against the bytes actually sent.
    attachment = _create(client, size=10)
    url = attachment["upload_descriptor"]["url"]
    assert client.upload(url, PNG, "image/png").status_code == 413
    assert not any((tmp_path / "attachments").glob("*"))
    assert client.upload(url, b"%PDF", "application/pdf").status_code == 415
    assert client.upload(url, PNG[:10], "image/png").status_code == 200


def test_only_the_owner_may_upload_see_use_or_delete(app, client: ChatClient) -> None:
    attachment = _create(client)
    other = ChatClient(app)
    url, preview = attachment["upload_descriptor"]["url"], attachment["preview_url"]
    assert other.upload(url, PNG, "image/png").status_code == 404
    assert client.upload(url, PNG, "image/png").status_code == 200
    assert other.http.get(preview).status_code == 404
    assert other.delete_attachment(attachment["id"]).status_code == 404
    stolen = other.post(request("threads.create", input=user_input("mine", [attachment["id"]])))
    assert stolen.status_code == 404 and stolen.json()["error"] == "attachment not found"
    assert other.list_threads()["data"] == []  # no half-created thread
    assert client.http.get(preview).status_code == 200


def test_ids_cannot_walk_out_of_the_attachment_directory(client: ChatClient) -> None:
    for bad in ("..%2F..%2Fsession.key", "..", "atc_x%00"):
        response = client.http.get(f"/chatkit/attachments/{bad}/preview")
        assert response.status_code == 404
