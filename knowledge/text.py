"""HTML → plain text, and documents → heading-aware chunks with their audience.

Audience is decided here, once, and is a security boundary: everything from a ticket (the
customer's messages, agents' public replies, internal notes) becomes INTERNAL chunks, for staff
only; internal notes are also marked `note`. Only articles can be PUBLIC. A ticket's chunk also
says who wrote each of its lines (`Chunk.authors`): a reply draft quotes agents, never a
customer, and a chunk of a conversation holds both.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, NavigableString, Tag
from bs4.element import Comment as HtmlComment
from bs4.element import Declaration, Doctype, ProcessingInstruction

from deskpilot._documents import Article, Audience, DocumentKind, Ticket
from deskpilot.knowledge.interfaces import Chunk

# A body that is only a URL or a file name is text to index, not a mistake to log (set once
# here: catch_warnings around each parse is not thread-safe, and syncs parse in threads).
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)

# Page chrome and non-content: never part of the knowledge.
_DROP = {"script", "style", "nav", "header", "footer", "noscript", "template", "iframe",
         "svg", "form", "button", "head"}
_SECTION_HEADINGS = {"h1", "h2", "h3"}
_HEADINGS = _SECTION_HEADINGS | {"h4", "h5", "h6"}
_BLOCKS = {"p", "div", "section", "article", "main", "aside", "blockquote", "ul", "ol", "dl",
           "dt", "dd", "thead", "tbody", "tfoot", "caption", "figure",
           "figcaption", "hr", "br", "details", "summary", "body", "html"}
_CELLS = {"td", "th"}
# An image's alt text that names a file or says "image" describes nothing a reader needs.
_NO_DESCRIPTION = re.compile(
    r"^(image|img|screenshot|screen shot|picture|photo)\b|\.(png|jpe?g|gif|svg|webp|bmp)$", re.I)
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
    author: str = ""  # a ticket message's author role; "" for articles


class _Line(NamedTuple):
    """A line of a chunk as it is built, with the author role of the block it comes from."""

    text: str
    author: str = ""


@dataclass
class _Collector:
    blocks: list[_Block] = field(default_factory=list)
    _inline: list[str] = field(default_factory=list)
    _prefix: str = ""
    # Inside a list item or a table row: its paragraphs and line breaks are one line.
    within_item: int = 0
    # The table being read: its header row and labels (None: no header row); the labels of
    # the row being read (None: its cells go unlabelled) and how many of its cells were read.
    header: tuple[Tag, list[str]] | None = None
    labels: list[str] | None = None
    cell: int = 0

    def text(self, value: str) -> None:
        self._inline.append(value)

    def has_text(self) -> bool:
        """Whether the line being built has any text yet."""
        return bool("".join(self._inline).strip())

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


def _list_start(ol: Tag) -> int:
    """The number of an <ol>'s first item: its `start` attribute when that is a number."""
    start = str(ol.get("start") or "").strip()
    return int(start) if start.lstrip("-").isdigit() else 1


def _rows(table: Tag) -> list[Tag]:
    """A table's own rows (not those of a table inside one of its cells)."""
    return [row for row in table.find_all("tr") if row.find_parent("table") is table]


def _cells(row: Tag) -> list[Tag]:
    return row.find_all(list(_CELLS), recursive=False)


def _header(table: Tag) -> tuple[Tag, list[str]] | None:
    """A table's header row and its labels: its first row, when every cell of it is a <th>
    and rows follow it."""
    rows = _rows(table)
    cells = _cells(rows[0]) if len(rows) > 1 else []
    if not cells or any(cell.name != "th" for cell in cells):
        return None
    return rows[0], [_collapse(cell.get_text(" ")) for cell in cells]


def _walk_table(table: Tag, out: _Collector) -> None:
    """Rows under a header row carry its labels ("- Plan: Pro | Price: $20/month"), so a row
    quoted or found alone still says what each value is; the header row is not repeated."""
    outer = out.header, out.labels, out.cell  # a table inside a cell of another
    out.header, out.labels = (None if out.within_item else _header(table)), None
    _walk_block(table, out)
    out.header, out.labels, out.cell = outer


def _walk_block(block: Tag, out: _Collector) -> None:
    if out.within_item:
        # Editors wrap an item's text in <p> and break it with <br>: still one step.
        out.text(" ")
        _walk(block, out)
        out.text(" ")
    else:
        out.flush()
        _walk(block, out)
        out.flush()


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
                # By identity: bs4 tags compare equal by content, and steps may repeat.
                items = parent.find_all("li", recursive=False)
                position = next(i for i, li in enumerate(items) if li is child)
                out.start_item(f"{_list_start(parent) + position}.")
            else:
                out.start_item()
            _walk_item(child, out)
        elif name == "img":
            # Instructions name icons by their picture: "Click the [gear] icon".
            alt = _collapse(str(child.get("alt") or ""))
            if alt and not _NO_DESCRIPTION.search(alt):
                out.text(f" {alt} ")
        elif name == "table":
            _walk_table(child, out)
        elif name == "tr":
            # A row is an item of a list (an answer quotes it as one), its cells apart.
            if out.header is not None and child is out.header[0]:
                continue  # its labels go with every row below it
            fits = out.header is not None and len(_cells(child)) == len(out.header[1])
            out.labels, out.cell = (out.header[1] if fits else None), 0
            out.start_item()
            _walk_item(child, out)
        elif name in _CELLS:
            # "Pro | $20/month", not "Pro$20/month"; an empty cell adds nothing.
            label = out.labels[out.cell] if out.labels and out.cell < len(out.labels) else ""
            out.cell += 1
            if not _collapse(child.get_text(" ")) and not child.find("img", alt=True):
                continue
            if out.has_text():
                out.text(" | ")
            if label:
                out.text(f"{label}: ")
            _walk(child, out)
        elif name in _BLOCKS:
            _walk_block(child, out)
        else:  # inline: a, code, em, strong, span, … keep their text
            _walk(child, out)


def _walk_item(item: Tag, out: _Collector) -> None:
    """A list item or table row, started with its marker: one line (a list inside it gives
    lines of its own)."""
    out.within_item += 1
    try:
        _walk(item, out)
    finally:
        out.within_item -= 1
    out.flush()


def _blocks(html: str, author: str = "") -> list[_Block]:
    # html.parser is in the standard library and already unescapes entities.
    soup = BeautifulSoup(html or "", "html.parser")
    out = _Collector()
    _walk(soup, out)
    out.flush()
    for block in out.blocks:
        block.author = author
    return out.blocks


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment or page: one block per line, lists as "- item",
    numbered lists as "1. item", a table row as "- cell | cell"."""
    return "\n".join(block.text for block in _blocks(html))


def _split_long(text: str, size: int, overlap: int) -> list[str]:
    words = text.split()
    step = size - overlap
    return [" ".join(words[i : i + size]) for i in range(0, max(len(words) - overlap, 1), step)]


def _pack(lines: list[_Line]) -> list[list[_Line]]:
    """Group consecutive blocks into pieces of about TARGET_WORDS; the last short block of a
    piece is repeated at the start of the next, so a step split across them stays whole."""
    pieces: list[list[_Line]] = []
    current: list[_Line] = []
    size = 0
    for line in lines:
        long = len(line.text.split()) > MAX_WORDS
        for part in _split_long(line.text, TARGET_WORDS, OVERLAP_WORDS) if long else [line.text]:
            n = len(part.split())
            if current and size + n > TARGET_WORDS:
                pieces.append(current)
                tail = current[-1]
                carried = len(tail.text.split()) <= OVERLAP_WORDS and len(current) > 1
                current, size = ([tail], len(tail.text.split())) if carried else ([], 0)
            current.append(_Line(part, line.author))
            size += n
    if current:
        pieces.append(current)
    return pieces


def _sections(blocks: list[_Block]) -> list[tuple[str | None, list[_Line]]]:
    sections: list[tuple[str | None, list[_Line]]] = [(None, [])]
    for block in blocks:
        if block.tag in _SECTION_HEADINGS:
            sections.append((block.text, []))
        else:
            sections[-1][1].append(_Line(block.text, block.author))
    return [(heading, lines) for heading, lines in sections if heading or lines]


def _lead(blocks: list[_Block]) -> list[_Line]:
    """The first LEAD_WORDS words, one block per line; a numbered list the cut falls into is
    kept whole, so an answer quoted from the lead chunk never shows half the steps, and a list
    item it would cut is left out (a cut item would read as the whole one)."""
    lines: list[_Line] = []
    size = 0
    for block in blocks:
        words = block.text.split()
        in_steps = bool(_STEP.match(block.text) and lines and _STEP.match(lines[-1].text))
        if size >= LEAD_WORDS and not (in_steps and size + len(words) <= MAX_WORDS):
            break
        if block.text.startswith("- ") and lines and size + len(words) > LEAD_WORDS:
            break
        if not _STEP.match(block.text):
            words = words[: max(LEAD_WORDS - size, 0)] or words[:1]
        lines.append(_Line(" ".join(words), block.author))
        size += len(words)
    return lines


def _piece(lines: list[_Line], strip: bool = True) -> tuple[str, tuple[str, ...]]:
    """A chunk's text, and the author of each of its lines (a block may hold several)."""
    rows = [(row, line.author) for line in lines for row in line.text.split("\n")]
    text = "\n".join(row for row, _ in rows)
    if not strip:
        return text, tuple(author for _, author in rows)
    text = text.strip()
    # strip() drops blank lines at either end (an empty title): their authors go with them.
    start = next((i for i, (row, _) in enumerate(rows) if row.strip()), len(rows))
    end = len(rows) - next((i for i, (row, _) in enumerate(reversed(rows)) if row.strip()), 0)
    return text, tuple(author for _, author in rows[start:end])


class _Text(NamedTuple):
    text: str
    authors: tuple[str, ...]  # each line's
    headings: tuple[str, ...] = ()  # which of its lines are headings


def _texts(title: str, blocks: list[_Block]) -> list[_Text]:
    """Chunk texts for one body, with their lines' authors and which lines are headings:
    `title`, the section heading if any, then the passage; first the lead chunk if the body is
    longer than LEAD_WORDS."""
    words = " ".join(block.text for block in blocks).split()
    headings = {block.text for block in blocks if block.tag in _HEADINGS}

    def text(lines: list[_Line], strip: bool = True) -> _Text:
        return _Text(*_piece(lines, strip), tuple(dict.fromkeys(
            line.text for line in lines[1:] if line.text in headings)))

    texts = [text([_Line(title), *_lead(blocks)], strip=False)] if len(words) > LEAD_WORDS else []
    for heading, body in _sections(blocks):
        if not body:  # a heading straight before a subheading: the subheading's chunk says it
            continue
        lead = [title] if heading in (None, title) else [title, heading]
        texts += [text([*map(_Line, lead), *piece]) for piece in _pack(body)]
    return texts or [_Text(title, ("",) * (title.count("\n") + 1))]


def _article_chunks(source: str, article: Article) -> list[Chunk]:
    if not article.published:  # drafts are not knowledge; the sync engine removes them
        return []
    return [
        Chunk(source=source, kind=DocumentKind.ARTICLE, document_id=article.id, position=i,
              title=article.title, text=text.text, audience=article.audience, url=article.url,
              locale=article.locale, origins=tuple(article.derived_from), headings=text.headings)
        for i, text in enumerate(_texts(article.title, _blocks(article.body_html)))
    ]


def _ticket_chunks(source: str, ticket: Ticket) -> list[Chunk]:
    # Everything from a ticket is staff knowledge: even a public reply was written to one
    # customer. Customers see solved tickets only as approved answer snippets (a plugin's).
    # One chunk mixes the customer's and the agents' words (a question matches its answer
    # best that way); each line keeps its author, so a draft can quote the agents only.
    texts: list[tuple[_Text, bool]] = []  # and whether it is a note
    if ticket.status.lower() in RESOLVED_STATUSES:
        # The description is the requester's opening message.
        conversation = [(ticket.description, "customer"),
                        *((c.body, c.author_role) for c in ticket.comments if c.public)]
        blocks = [b for body, author in conversation for b in _blocks(body, author)]
        texts += [(piece, False) for piece in _texts(ticket.subject, blocks)]
    for comment in ticket.comments:
        if not comment.public:  # an internal note, whatever the ticket's status
            texts += [(piece, True) for piece in
                      _texts(ticket.subject, _blocks(comment.body, comment.author_role))]
    return [
        Chunk(source=source, kind=DocumentKind.TICKET, document_id=ticket.id, position=i,
              title=ticket.subject, text=text, audience=Audience.INTERNAL, url=ticket.url,
              locale=ticket.locale, note=note, authors=authors, headings=headings,
              origins=(f"{source}:{ticket.id}",))
        for i, ((text, authors, headings), note) in enumerate(texts)
    ]


def chunk_document(source: str, doc: Article | Ticket) -> list[Chunk]:
    """Chunks of one document, positions 0..n-1 in a fixed order (a ticket: conversation, notes).

    A changed document can yield fewer chunks than before: delete its old points first.
    """
    if isinstance(doc, Article):
        return _article_chunks(source, doc)
    return _ticket_chunks(source, doc)
