"""Attachments are checked against the bytes: as many as declared, of the declared type
(sniffed); one never uploaded cannot be sent, nor one already sent in another conversation."""

from __future__ import annotations

from .conftest import MakeApp
from .protocol import ChatClient, request, user_input

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def test_html_uploaded_as_png_is_refused(make_app: MakeApp) -> None:
    client = ChatClient(make_app()[0])
    html = b"<html><script>alert(1)</script></html>".ljust(len(PNG))
    attachment = client.create_attachment("shot.png", len(PNG), "image/png").json()
    url = attachment["upload_descriptor"]["url"]
    refused = client.upload(url, html, "image/png")
    assert refused.status_code == 415, refused.text
    assert "image/png" in refused.json()["detail"]
    assert client.upload(url, PNG, "image/png").status_code == 200


def test_the_bytes_must_be_as_many_as_declared(make_app: MakeApp, tmp_path) -> None:
    client = ChatClient(make_app()[0])  # the default limit: 5 MB
    attachment = client.create_attachment("shot.png", 5, "image/png").json()
    assert "metadata" not in attachment and "declared_size" not in str(attachment)
    url = attachment["upload_descriptor"]["url"]
    more = client.upload(url, PNG + b"\0" * 90_000, "image/png")
    assert more.status_code == 413, more.text
    assert "5 bytes" in more.json()["detail"]
    assert not any((tmp_path / "attachments").glob("*"))  # nothing kept of it
    fewer = client.create_attachment("shot.png", 500, "image/png").json()
    short = client.upload(fewer["upload_descriptor"]["url"], PNG, "image/png")
    assert short.status_code == 400, short.text
    assert f"uploaded {len(PNG)} bytes" in short.json()["detail"]
    assert "500 bytes" in short.json()["detail"]
    exact = client.create_attachment("shot.png", len(PNG), "image/png").json()
    assert client.upload(exact["upload_descriptor"]["url"], PNG, "image/png").status_code == 200


def test_multipart_upload_counts_the_file_not_the_form(make_app: MakeApp) -> None:
    client = ChatClient(make_app()[0])
    attachment = client.create_attachment("shot.png", len(PNG), "image/png").json()
    response = client.http.post(attachment["upload_descriptor"]["url"],
                                files={"file": ("shot.png", PNG, "image/png")})
    assert response.status_code == 200, response.text


def test_pdf_must_be_a_pdf(make_app: MakeApp) -> None:
    client = ChatClient(make_app()[0])
    attachment = client.create_attachment("a.pdf", 12, "application/pdf").json()
    url = attachment["upload_descriptor"]["url"]
    assert client.upload(url, b"not a pdf at", "application/pdf").status_code == 415
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
