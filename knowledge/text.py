"""HTML → plain text, and documents → heading-aware chunks with their audience.

Audience is decided here, once, and is a security boundary: everything from a ticket (the
customer's messages, agents' public replies, internal notes) becomes INTERNAL chunks, for staff
only; internal notes are also marked `note`. Only articles can be PUBLIC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment as HtmlComment
from bs4.element import Declaration, Doctype, ProcessingInstruction

from deskpilot._documents import Article, Audience, DocumentKind, Ticket
from deskpilot.knowledge.interfaces import Chunk

# Page chrome and non-content: never part of the knowledge.
_DROP = {"script", "style", "nav", "header", "footer", "noscript", "template", "iframe",
         "svg", "form", "button", "head"}
_SECTION_HEADINGS = {"h1", "h2", "h3"}
_HEADINGS = _SECTION_HEADINGS | {"h4", "h5", "h6"}
_BLOCKS = {"p", "div", "section", "article", "main", "aside", "blockquote", "ul", "ol", "dl",
           "dt", "dd", "table", "thead", "tbody", "tr", "figure", "figcaption", "hr", "br",
           "details", "summary", "body", "html"}
_SKIP_STRINGS = (HtmlComment, Doctype, Declaration, ProcessingInstruction)

# Chunk sizes in words: MiniLM reads ~256 word pieces, so a chunk of ~250 words is what it sees.
TARGET_WORDS = 250
MAX_WORDS = 300
OVERLAP_WORDS = 40
# A longer body also gets a lead chunk: the title and the first words, where the title weighs
# most. Help-center titles are usually the question itself, so this chunk matches paraphrased
# questions best (stackfaq tuning half: recall@1 0.929 → 0.955, see knowledge/evaluation.py).
LEAD_WORDS = 40

# Helpdesk statuses after which a ticket's public conversation is vetted knowledge.
RESOLVED_STATUSES = {"solved", "closed"}

_SPACES = re.compile(r"\s+")
_STEP = re.compile(r"\d+\. ")


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


@dataclass
class _Block:
    tag: str  # a heading tag, "pre", or "p" for any other text block
    text: str


@dataclass
class _Collector:
    blocks: list[_Block] = field(default_factory=list)
    _inline: list[str] = field(default_factory=list)
    _prefix: str = ""

    def text(self, value: str) -> None:
        self._inline.append(value)

    def start_item(self, marker: str = "-") -> None:
        self.flush()
        self._prefix = f"{marker} "

    def flush(self) -> None:
        text = _collapse("".join(self._inline))
        self._inline.clear()
        if text:
            self.blocks.append(_Block("p", self._prefix + text))
        self._prefix = ""

    def add(self, tag: str, text: str) -> None:
        self.flush()
        if text:
            self.blocks.append(_Block(tag, text))


def _walk(node: Tag, out: _Collector) -> None:
    for child in node.children:
        if isinstance(child, _SKIP_STRINGS):
            continue
        if isinstance(child, NavigableString):
            out.text(str(child))
            continue
        if not isinstance(child, Tag) or child.name in _DROP:
            continue
        name = child.name
        if name in _HEADINGS:
            out.add(name, _collapse(child.get_text(" ")))
        elif name == "pre":
            # Code keeps its lines; only trailing spaces and blank lines go.
            lines = [line.rstrip() for line in child.get_text().splitlines()]
            out.add("pre", "\n".join(line for line in lines if line.strip()))
        elif name == "li":
            # Numbered steps keep their numbers: an answer quotes them as steps.
            parent = child.parent
            if isinstance(parent, Tag) and parent.name == "ol":
                position = [li for li in parent.find_all("li", recursive=False)].index(child)
                out.start_item(f"{position + 1}.")
            else:
                out.start_item()
            _walk(child, out)
            out.flush()
        elif name in _BLOCKS:
            out.flush()
            _walk(child, out)
            out.flush()
        else:  # inline: a, code, em, strong, span, … keep their text
            _walk(child, out)


def _blocks(html: str) -> list[_Block]:
    # html.parser is in the standard library and already unescapes entities.
    soup = BeautifulSoup(html or "", "html.parser")
    out = _Collector()
    _walk(soup, out)
    out.flush()
    return out.blocks


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment or page: one block per line, lists as "- item",
    numbered lists as "1. item"."""
    return "\n".join(block.text for block in _blocks(html))


def _split_long(text: str, size: int, overlap: int) -> list[str]:
    words = text.split()
    step = size - overlap
    return [" ".join(words[i : i + size]) for i in range(0, max(len(words) - overlap, 1), step)]


def _pack(texts: list[str]) -> list[str]:
    """Group consecutive blocks into pieces of about TARGET_WORDS; the last short block of a
    piece is repeated at the start of the next, so a step split across them stays whole."""
    pieces: list[list[str]] = []
    current: list[str] = []
    size = 0
    for text in texts:
        long = len(text.split()) > MAX_WORDS
        for part in _split_long(text, TARGET_WORDS, OVERLAP_WORDS) if long else [text]:
            n = len(part.split())
            if current and size + n > TARGET_WORDS:
                pieces.append(current)
                tail = current[-1]
                carried = len(tail.split()) <= OVERLAP_WORDS and len(current) > 1
                current, size = ([tail], len(tail.split())) if carried else ([], 0)
            current.append(part)
            size += n
    if current:
        pieces.append(current)
    return ["\n".join(piece) for piece in pieces]


def _sections(blocks: list[_Block]) -> list[tuple[str | None, list[str]]]:
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for block in blocks:
        if block.tag in _SECTION_HEADINGS:
            sections.append((block.text, []))
        else:
            sections[-1][1].append(block.text)
    return [(heading, texts) for heading, texts in sections if heading or texts]


def _lead(blocks: list[_Block]) -> str:
    """The first LEAD_WORDS words, one block per line; a numbered list the cut falls into is
    kept whole, so an answer quoted from the lead chunk never shows half the steps."""
    lines: list[str] = []
    size = 0
    for block in blocks:
        words = block.text.split()
        in_steps = bool(_STEP.match(block.text) and lines and _STEP.match(lines[-1]))
        if size >= LEAD_WORDS and not (in_steps and size + len(words) <= MAX_WORDS):
            break
        if not _STEP.match(block.text):
            words = words[: max(LEAD_WORDS - size, 0)] or words[:1]
        lines.append(" ".join(words))
        size += len(words)
    return "\n".join(lines)


def _texts(title: str, blocks: list[_Block]) -> list[str]:
    """Chunk texts for one body: `title`, the section heading if any, then the passage;
    first the lead chunk if the body is longer than LEAD_WORDS."""
    words = " ".join(block.text for block in blocks).split()
    texts = [f"{title}\n{_lead(blocks)}"] if len(words) > LEAD_WORDS else []
    for heading, body in _sections(blocks):
        if not body:  # a heading straight before a subheading: the subheading's chunk says it
            continue
        lead = [title] if heading in (None, title) else [title, heading]
        for piece in _pack(body):
            texts.append("\n".join([*lead, piece]).strip())
    return texts or [title]


def _article_chunks(source: str, article: Article) -> list[Chunk]:
    if not article.published:  # drafts are not knowledge; the sync engine removes them
        return []
    return [
        Chunk(source=source, kind=DocumentKind.ARTICLE, document_id=article.id, position=i,
              title=article.title, text=text, audience=article.audience, url=article.url,
              locale=article.locale)
        for i, text in enumerate(_texts(article.title, _blocks(article.body_html)))
    ]


def _ticket_chunks(source: str, ticket: Ticket) -> list[Chunk]:
    # Everything from a ticket is staff knowledge: even a public reply was written to one
    # customer. Customers see solved tickets only as approved answer snippets (a plugin's).
    texts: list[tuple[str, bool]] = []  # (text, is an internal note)
    if ticket.status.lower() in RESOLVED_STATUSES:
        conversation = [ticket.description, *(c.body for c in ticket.comments if c.public)]
        blocks = [b for body in conversation for b in _blocks(body)]
        texts += [(text, False) for text in _texts(ticket.subject, blocks)]
    for comment in ticket.comments:
        if not comment.public:  # an internal note, whatever the ticket's status
            texts += [(t, True) for t in _texts(ticket.subject, _blocks(comment.body))]
    return [
        Chunk(source=source, kind=DocumentKind.TICKET, document_id=ticket.id, position=i,
              title=ticket.subject, text=text, audience=Audience.INTERNAL, url=ticket.url,
              locale=ticket.locale, note=note)
        for i, (text, note) in enumerate(texts)
    ]


def chunk_document(source: str, doc: Article | Ticket) -> list[Chunk]:
    """Chunks of one document, positions 0..n-1 in a fixed order (a ticket: conversation, notes).

    A changed document can yield fewer chunks than before: delete its old points first.
    """
    if isinstance(doc, Article):
        return _article_chunks(source, doc)
    return _ticket_chunks(source, doc)
