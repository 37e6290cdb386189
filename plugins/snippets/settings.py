"""`[knowledge]` keys of the snippets plugin: how solved tickets become public answer snippets."""

from __future__ import annotations

from pydantic import Field

import deskpilot


class SnippetSettings(deskpilot.Options):
    # Off: a snippet is public only once someone approves it (`deskpilot snippets approve`).
    # On: every new snippet is published as distilled, unreviewed. Personal data is removed
    # either way, but only a person can tell that an answer is general enough for everyone.
    snippet_auto_approve: bool = False
    # A solved ticket whose question is at least this similar (cosine) to a snippet's joins
    # that snippet as another source instead of making a new one.
    snippet_merge_similarity: float = Field(0.9, ge=0.0, le=1.0)
    # Where phone numbers written without a country code are read as local numbers (ISO
    # 3166 code); numbers with a +country code are found whatever this is.
    snippet_phone_region: str = Field("US", min_length=2, max_length=2)
