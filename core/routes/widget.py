"""The self-hosted chat widget (`GET /widget.js`) and a demo page embedding it (`GET /`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["widget"])
_WIDGET = Path(__file__).resolve().parents[1] / "widget"
# Short caching: host sites embed the script by URL, and an upgrade should reach them soon.
_CACHE = {"Cache-Control": "public, max-age=300"}


@router.get("/widget.js", response_class=FileResponse)
def widget_js() -> FileResponse:
    """The chat widget: one dependency-free script speaking ChatKit to `data-endpoint`."""
    return FileResponse(_WIDGET / "widget.js", media_type="text/javascript", headers=_CACHE)


@router.get("/", response_class=FileResponse, include_in_schema=False)
def demo_page() -> FileResponse:
    return FileResponse(_WIDGET / "demo.html", media_type="text/html")
