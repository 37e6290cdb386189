"""CORS for the chat routes (`/chatkit…`), for exactly `[chat] allowed_origins`: the sites that
embed the widget, or run the official ChatKit JS, from another origin than this server.
The admin API gets none: it is called by servers and the CLI, not by pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.middleware.cors import CORSMiddleware

CHAT_PREFIX = "/chatkit"


class ChatCORS:
    def __init__(self, app: Callable[..., Any], allowed_origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app, allow_origins=allowed_origins, allow_credentials=True,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Deskpilot-User-Token"],
            max_age=600)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CHAT_PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
