"""What every chat request carries into the store and the agent: who is asking, and from where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    # Namespaced ("user:<host id>" or "anon:<session id>") so the two kinds never collide.
    user_id: str
    # The app's public base URL ("https://host/prefix/"), for upload and preview links.
    base_url: str = "http://localhost/"
