"""The shapes knowledge moves in, and the vector-index interface both backends implement.

    connector ─▶ Document ─▶ chunk_document() ─▶ [Chunk] ─▶ embedder ─▶ VectorIndex.upsert()
    query ─▶ Searcher.search() ─▶ VectorIndex.search() ─▶ [Passage]
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from deskpilot._documents import Audience, DocumentKind
from deskpilot._search import Passage, SearchFilter

if TYPE_CHECKING:
    from deskpilot.knowledge.index.calibration import Calibration
    from deskpilot.knowledge.index.fusion import FusionConfig

# Point ids are derived from (source, kind, document id, chunk position), so a repeated or
# resumed sync overwrites the same points instead of duplicating them.
_POINT_NAMESPACE = uuid.UUID("6f1d8f0e-2f52-4d8e-9a43-5d0c6f3b8a11")


def point_id(source: str, kind: DocumentKind | str, document_id: str, position: int) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{source}\x1f{kind}\x1f{document_id}\x1f{position}"))


@dataclass(frozen=True)
class Chunk:
    """A passage of one document, ready to embed. `text` already carries the title."""

    source: str  # connector name
    kind: DocumentKind
    document_id: str
    position: int
    title: str
    text: str
    audience: Audience
    url: str | None = None
    locale: str = "en"
    # A ticket's internal note: staff knowledge that is not even quoted to the ticket's own
    # customer (a draft reply leaves it out), unlike the ticket's conversation.
    note: bool = False
    # A ticket's chunk: who wrote each line of `text` ("customer", "agent", "system"; "" for
    # the title), so that a draft quotes agents only. Empty for articles.
    authors: tuple[str, ...] = ()
    # The tickets ("connector:ticket_id") this passage comes from: a ticket's own chunks, or an
    # answer snippet distilled from tickets. A search can leave them out (a simulation
    # replaying one of them must not answer from it: SearchFilter.exclude_origins).
    origins: tuple[str, ...] = ()
    # The lines of `text` that are headings (`<h1>`–`<h6>`, markdown `#`): the section's after
    # the title, and any the passage holds (a lead chunk's). An answer quotes each on a line of
    # its own above what follows it, instead of guessing them from the text.
    headings: tuple[str, ...] = ()

    @property
    def point_id(self) -> str:
        return point_id(self.source, self.kind, self.document_id, self.position)


class VectorIndex(Protocol):
    """Both backends (embedded Qdrant Edge, Qdrant server via qdrant-client) implement this."""

    #: How search merges the dense and lexical lists (knowledge/index/fusion.py).
    fusion: FusionConfig
    #: The knowledge base's own lexical weight, once computed (`calibrate`).
    calibration: Calibration | None

    def upsert(self, chunks: list[Chunk], dense: list[list[float]]) -> None:
        """Insert or overwrite the points of these chunks (dense vectors in the same order)."""

    def delete_document(self, source: str, kind: DocumentKind, document_id: str) -> None:
        """Remove every point of one document."""

    def search(
        self, dense: list[float], text: str, limit: int, filter: SearchFilter | None = None
    ) -> list[Passage]:
        """Hybrid search: dense vector + sparse lexical encoding of `text`, fused."""

    def count(self, filter: SearchFilter | None = None) -> int: ...

    def relabel_public_tickets(self) -> int:
        """Upgrade an index written when a solved ticket's conversation was `public`: make
        every ticket point internal (internal ones, which were notes, marked `note`). Returns
        the number of points that were public; 0, and no write, once done."""

    def calibrate(self) -> Calibration:
        """Recompute and store the knowledge base's lexical weight from its corpus
        (knowledge/index/calibration.py); the sync engine calls it after a run changed it."""

    def ping(self) -> None:
        """Raise if the index cannot answer (used by /readyz)."""

    def flush(self) -> None: ...

    def close(self) -> None: ...
