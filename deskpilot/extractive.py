"""Sentence selection for plugins that quote the knowledge (a reply draft, an answer snippet):
the offline model's own (`deskpilot.core.agent.extractive`), so every extractive text picks,
keeps and renders sentences alike.

    from deskpilot.extractive import Source, general, render, select

    excerpts = select(question, [Source(title, url, text, score)], whole=True)
    reply = "\\n\\n".join(render(e) for e in excerpts)
"""

from deskpilot.core.agent.extractive import (
    Excerpt,
    Rank,
    Source,
    Unit,
    general,
    plain_text,
    render,
    select,
    sentences,
    terms,
    units,
)

__all__ = ["Excerpt", "Rank", "Source", "Unit", "general", "plain_text", "render", "select",
           "sentences", "terms", "units"]
