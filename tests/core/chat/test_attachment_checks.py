"""Attachments are checked against the bytes: the type is sniffed, and one never uploaded
cannot be sent."""

from __future__ import annotations

from .conftest import MakeApp
from .protocol import ChatClient, request, user_input

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def test_html_uploaded_as_png_is_refused(make_app: MakeApp) -> None:
    client = ChatClient(make_app()[0])
    attachment = client.create_attachment("shot.png", 40, "image/png").json()
    url = attachment["upload_descriptor"]["url"]
    refused = client.upload(url, b"<html><script>alert(1)</script></html>", "image/png")
    assert refused.status_code == 415, refused.text
    assert "image/png" in refused.json()["detail"]
    assert client.upload(url, PNG, "image/png").status_code == 200


def test_pdf_must_be_a_pdf(make_app: MakeApp) -> None:
    client = ChatClient(make_app()[0])
    attachment = client.create_attachment("a.pdf", 40, "application/pdf").json()
    url = attachment["upload_descriptor"]["url"]
    assert client.upload(url, b"not a pdf at all", "application/pdf").status_code == 415
    assert client.upload(url, b"%PDF-1.7\n...", "application/pdf").status_code == 200


def test_a_never_uploaded_attachment_cannot_be_sent(make_app: MakeApp) -> None:
    client = ChatClient(make_app()[0])
    attachment = client.create_attachment("shot.png", len(PNG), "image/png").json()
    response = client.post(request("threads.create",
                                   input=user_input("see this", [attachment["id"]])))
    assert response.status_code == 400, response.text
    assert "not been uploaded" in response.json()["detail"]
    assert client.list_threads()["data"] == []


def test_deleting_a_second_thread_keeps_the_file_the_first_still_shows(make_app: MakeApp,
                                                                        tmp_path) -> None:
    client = ChatClient(make_app()[0])
    attachment = client.create_attachment("shot.png", len(PNG), "image/png").json()
    assert client.upload(attachment["upload_descriptor"]["url"], PNG, "image/png"
                         ).status_code == 200
    first = client.create("see this", [attachment["id"]])
    assert first.response.status_code == 200
    second = client.post(request("threads.create",
                                 input=user_input("again", [attachment["id"]])))
    assert second.status_code == 400 and "another conversation" in second.json()["detail"]
    assert [t["id"] for t in client.list_threads()["data"]] == [first.thread_id]
    assert (tmp_path / "attachments" / attachment["id"]).read_bytes() == PNG
    assert client.http.get(attachment["preview_url"]).status_code == 200
