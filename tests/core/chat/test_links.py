"""Only http(s) links reach a client: refused at ingestion, dropped before annotation."""

from __future__ import annotations

from datetime import datetime

import pytest
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    URLSource,
)

from deskpilot import Article, Ticket
from deskpilot.core.chat.server import safe_links

BAD = ["javascript:alert(document.cookie)", "JavaScript:alert(1)", " javascript:x",
       "data:text/html,<script>alert(1)</script>", "vbscript:x", "file:///etc/passwd"]


@pytest.mark.parametrize("url", BAD)
def test_ingestion_drops_non_http_urls(url: str) -> None:
    assert Article(id="a", title="t", body_html="b", url=url).url is None
    assert Ticket(id="1", subject="s", description="d", url=url).url is None


def test_ingestion_keeps_http_urls() -> None:
    assert Article(id="a", title="t", body_html="b", url="https://help.example.com/x").url == (
        "https://help.example.com/x")


def _annotation(url: str) -> Annotation:
    return Annotation(source=URLSource(url=url, title="t"), index=0)


def test_annotations_with_non_http_urls_are_dropped() -> None:
    item = AssistantMessageItem(id="m", thread_id="t", created_at=datetime.now(), content=[
        AssistantMessageContent(text="x", annotations=[
            _annotation("javascript:alert(1)"), _annotation("https://ok.example/a")])])
    cleaned = safe_links(ThreadItemDoneEvent(item=item))
    assert [a.source.url for a in cleaned.item.content[0].annotations] == ["https://ok.example/a"]
    added = ThreadItemUpdatedEvent(item_id="m", update=AssistantMessageContentPartAnnotationAdded(
        content_index=0, annotation_index=0, annotation=_annotation("javascript:alert(1)")))
    assert safe_links(added) is None
