"""Sentence selection: the whole sentences and steps of the best passages that answer a question.

The one place for it: the offline model's answers are built from it, and so can any other
extractive text (reply drafts quoting the knowledge). A passage is read as it is indexed
(`knowledge/text.py`): title on the first line, maybe a section heading, then one block per
line, bullet items as "- item", numbered steps as "1. step".

    select(question, sources)  -> the excerpts to quote, best source first
    render(excerpt)             -> the excerpt as plain text, steps one per line
    general(sentence)           -> whether an agent's sentence holds for any customer (not a
                                   greeting, thanks or sign-off, nor what was done on one account)

`select(..., whole=True)` never cuts a sentence (a reply draft quotes whole sentences or none);
`select(..., rank=...)` scores sentences by meaning (say, embedding similarity to the question)
instead of by the question's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

# About this many words are quoted in all; a list of steps is kept whole even when longer.
MAX_WORDS = 80
# A single sentence longer than this is cut (with "…"): a wall of text is not an answer.
MAX_SENTENCE_WORDS = 60
# With `rank`, a sentence (or list of steps) less similar to the question than this does not
# answer it. A draft's rank is all-MiniLM-L6-v2's cosine; 0.3 was set by hand and looked at on
# 20 of the stackfaq draft tickets (bench/draft_tickets.py), not tuned on a grid.
MIN_RANK = 0.3
#: Scores texts by how well they answer the question, one score per text (a higher is better).
Rank = Callable[[Sequence[str]], Sequence[float]]
# A second source is quoted only when it scores at least this share of the first one's search
# score and answers part of the question the first excerpt does not.
SECOND_SOURCE_RATIO = 0.6

_STOPWORD_TEXT = (
    "a about after all also am an and any are as at be been but by can could do does did for "
    "from get got has have how i if in into is it its me my no not of on or our please so "
    "some that the their them then there this to up us was we what when where which who why "
    "will with would you your hi hello thanks thank"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# How a help article names another one: 'see "Connect a custom domain"'.
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"), ("„", "“"), ("«", "»"), ("« ", " »"))
_CLAUSE_START_TEXT = "if when to for you after before while in on with and or but as this it"
_CLAUSE_STARTS = frozenset(_CLAUSE_START_TEXT.split())
# An instruction's first word: "Select" / "Reset" / ". All settings are then reset." is one
# sentence a manual broke around a button's name, not a sub-heading.
_IMPERATIVE_TEXT = "select press choose tap click open go enter turn use set"
_IMPERATIVES = frozenset(_IMPERATIVE_TEXT.split())
_ARTICLES = frozenset(("a", "an", "the"))
_WORD = re.compile(r"[a-z0-9]+")
_STEP = re.compile(r"^\d+[.)]\s+")
_ITEM = re.compile(r"^[-*•]\s+")
_TERMINAL = re.compile(r"[.!?:][\"')\]]*$")
# A sentence ends at . ! ? followed by space and a capital, digit or quote ("e.g. the" stays)
# — but not after an abbreviation that is never a sentence's last word ("i.e. Type until…").
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(])")
_ABBREVIATION = re.compile(r"(?:^|[\s(])(?:e\.g|i\.e|cf|vs|approx|Mr|Mrs|Ms|Dr|Prof|Fig)\.$",
                           re.IGNORECASE)
_MARKDOWN = [
    (re.compile(r"\[([^\]]+)\]\([^)\s]+\)"), r"\1"),  # [text](url) -> text
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # **bold**
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"),  # *emphasis*
    (re.compile(r"`([^`]+)`"), r"\1"),  # `code`
    (re.compile(r"^\s*(#{1,6}|>)\s+"), ""),  # heading or quote marker
]


def _stem(word: str) -> str:
    # Crude suffix stripping, enough to match "resetting"/"reset" or "invoices"/"invoice".
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """Content words of `text`, lower-cased and crudely stemmed, stopwords removed."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def term_coverage(query: str, text: str) -> float:
    """Share of the query's content terms found in `text` (0 when the query has none)."""
    wanted = terms(query)
    return len(wanted & terms(text)) / len(wanted) if wanted else 0.0


def plain_text(text: str) -> str:
    """Markdown emphasis, code, links and heading markers as plain text."""
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    return text.strip()


@dataclass(frozen=True)
class Source:
    """A passage as a search tool returned it."""

    title: str
    url: str | None
    text: str
    score: float
    locale: str = "en"
    headings: tuple[str, ...] = ()  # which lines of `text` the index knows are headings


@dataclass(frozen=True)
class Unit:
    """A quotable piece of a passage: a sentence, a bullet item or one numbered step. Steps of
    one list share `group`; `index` is the unit's place in the passage. `context`: the plain
    sub-heading lines the unit follows ("Removing an item on the Home Screen"; several, as a
    manual's menu path, read "Settings > General > Network"), scored and quoted with it on a
    line of its own (else it ran into the sentence). `heading`: the heading the unit stands
    under, as the index knows it (`Source.headings`), quoted above it but not scored (without
    it, "Unlimited apps, …" was quoted with no "Pro — 29 USD per member per month" above it)."""

    text: str
    kind: str  # "sentence" | "item" | "step"
    group: int
    index: int
    context: str = ""
    heading: str = ""

    @property
    def scored(self) -> str:
        """What the unit says, its sub-heading included: what it is scored and checked by."""
        return f"{self.context} {self.text}".strip()

    @property
    def words(self) -> int:
        return len(self.scored.split())


def sentences(paragraph: str, *, fragment: bool = False) -> list[str]:
    """The whole sentences of a paragraph; a last fragment without an ending is left out
    (a passage window cut it) unless `fragment` (a message typed without a final stop)."""
    parts: list[str] = []
    for part in (p.strip() for p in _SENTENCE_BREAK.split(paragraph)):
        if parts and _ABBREVIATION.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {part}".strip()
        elif part:
            parts.append(part)
    if parts and not fragment and not _TERMINAL.search(parts[-1]):
        parts.pop()
    return parts


def _is_heading(line: str, following: str) -> bool:
    """Whether the line after the title is a section heading rather than a sentence's start
    (manuals break sentences at line ends: "If the Samsung" / "Smart Remote does not pair")."""
    words = line.split()
    return (
        0 < len(words) <= 12 and not _TERMINAL.search(line)
        and words[0].lower() not in _CLAUSE_STARTS and not following[:1].islower()
    )


def _is_subheading(line: str, following: str) -> bool:
    """Whether a line that starts a paragraph names what follows rather than starting a
    sentence the manual broke at the line's end: short, no comma, no instruction, not ending
    in a word that needs more ("…to operate the" / "TV."), and a sentence, not a list or the
    rest of a line (". All settings…"), follows."""
    words = line.split()
    if not line[:1].isalnum() or (words[0].lower() in _ARTICLES and len(words) > 3):
        return False  # "(Dots x lines)", a footnote's "*", "The e-Manual contains a section"
    return (
        len(words) <= 8 and "," not in line and words[-1].lower() not in _STOPWORDS
        and words[0].lower() not in _IMPERATIVES and _is_heading(line, following)
        and re.match(r"[\"'(]?[A-Z0-9]", following) is not None
        and not _STEP.match(following) and not _ITEM.match(following)
    )


def units(source: Source, whole: bool = False) -> list[Unit]:
    """The passage cut into sentences, items and steps, in order, markdown removed. The title
    is left out (the answer names its source anyway); a heading the index knows is the
    `heading` of the units under it, one only the text's shape suggests after the title is left
    out. `whole`: a passage without a whole sentence has none (else its cut text is one unit,
    marked as cut)."""
    lines = [plain_text(line) for line in source.text.splitlines()]
    title = plain_text(source.title).rstrip(".:?")
    if lines and lines[0].rstrip(".:?") == title:
        lines = lines[1:]
    # Only the index knows a heading from a manual's broken line ("AV IN)") or a heading with
    # a comma ("Subdomains (www.example.com, app.example.com)") from a sentence's start; the
    # body's own first heading that repeats the title is left out, as the title is.
    known = {plain_text(h) for h in source.headings} - {title}
    heading = ""  # the one the next units stand under
    if len(lines) > 1 and lines[0] not in known and _is_heading(lines[0], lines[1]):
        lines = lines[1:]
    found: list[Unit] = []
    paragraph: list[str] = []
    context: list[str] = []  # sub-headings waiting for the unit they lead into
    group = 0

    def add(text: str, kind: str) -> None:
        found.append(Unit(text, kind, group, len(found), " > ".join(context), heading))
        context.clear()

    def flush(whole: bool = False) -> None:
        nonlocal group
        if paragraph:  # `whole`: a heading ends it, not the passage's window
            for sentence in sentences(" ".join(paragraph), fragment=whole):
                add(sentence, "sentence")
            paragraph.clear()
            group += 1

    lines = [line for line in lines if re.search(r"[A-Za-z]", line)]  # no page numbers, rules
    previous = ""
    for at, line in enumerate(lines):
        following = lines[at + 1] if at + 1 < len(lines) else ""
        if line in known:
            flush(whole=True)  # "Example: CNAME www edge.acmecloud.app" before it is text
            heading, previous = line, ""
            continue
        if (not paragraph and following and following not in known
                and _is_subheading(line, following)):
            context.append(line)
            continue
        step = _STEP.match(line)
        if marker := step or _ITEM.match(line):
            kind = "step" if step else "item"
            flush()
            if previous != kind:  # a list starts
                group += 1
            add(line[marker.end():].strip(), kind)
            previous = kind
        else:
            # Lines without an ending continue the paragraph (manuals broken at line ends).
            if previous in ("step", "item"):
                group += 1
            paragraph.append(line)
            previous = "sentence"
            if _TERMINAL.search(line):
                flush()
    flush()
    if found and found[-1].kind == "sentence" and found[-1].text.endswith(":"):
        found.pop()  # it leads into a list the passage's window cut away
    if not found and not whole and paragraph_text(lines):
        # One long cut sentence is all the passage has: quote it, marked as cut.
        add(paragraph_text(lines) + " …", "sentence")
    return found


def paragraph_text(lines: list[str]) -> str:
    return " ".join(line for line in lines if re.search(r"[A-Za-z]", line)).strip()


@dataclass(frozen=True)
class Excerpt:
    source: Source
    units: tuple[Unit, ...]

    @property
    def words(self) -> int:
        return sum(unit.words for unit in self.units)


def _score(wanted: set[str], text: str) -> int:
    return len(wanted & terms(text))


def _steps_of(all_units: Sequence[Unit], unit: Unit) -> list[Unit]:
    return [u for u in all_units if u.kind == "step" and u.group == unit.group]


def _candidates(all_units: Sequence[Unit]) -> list[list[Unit]]:
    """What may be quoted, each scored as one: a unit; a step list as a whole (it answers "how
    do I …" better than any one step); a sentence that ends in ":" with the list it leads into
    ("Use one of:" alone says nothing)."""
    candidates: list[list[Unit]] = []
    at = 0
    while at < len(all_units):
        unit = all_units[at]
        following = all_units[at + 1] if at + 1 < len(all_units) else None
        if unit.kind == "step":
            candidate = _steps_of(all_units, unit)
        elif unit.kind == "sentence" and unit.text.endswith(":") and following is not None \
                and following.kind != "sentence" and following.group != unit.group:
            candidate = [unit, *(u for u in all_units if u.group == following.group)]
        else:
            candidate = [unit]
        candidates.append(candidate)
        at = candidate[-1].index + 1
    return candidates


def _excerpt(question: str, source: Source, budget: int, covered: set[str] = frozenset(),
             whole: bool = False, rank: Rank | None = None) -> Excerpt | None:
    """The units of one passage that best answer the question, within about `budget` words:
    the best-matching unit (a list of steps counts as one), then others that share the
    question's words, in the passage's order. `whole`: a long sentence is kept whole."""
    all_units = units(source, whole)
    if not all_units:
        return None
    wanted = terms(question) - covered
    candidates = _candidates(all_units)
    texts = [" ".join(u.scored for u in c) for c in candidates]
    if rank is None:
        values: Sequence[float] = [_score(wanted, text) for text in texts]
    else:  # by meaning; after a first source, only what says something it did not
        values = [value if value >= MIN_RANK and (not covered or terms(text) - covered) else 0
                  for value, text in zip(rank(texts), texts, strict=True)]
    scored = list(zip(values, candidates, strict=True))
    best_score = max(score for score, _ in scored)
    if covered and best_score == 0:
        return None  # nothing this source adds to what is already quoted
    best = next(c for score, c in scored if score == best_score)  # earliest of the best
    chosen = list(best)
    if best[0].kind == "step" and best[0].index > 0:
        intro = all_units[best[0].index - 1]
        # The sentence that leads into the steps ("In Settings:") belongs with them.
        if intro.kind == "sentence" and intro.group != best[0].group:
            chosen.insert(0, intro)
    used = sum(u.words for u in chosen)
    if len(chosen) == 1 and used > MAX_SENTENCE_WORDS and not whole:
        words = chosen[0].text.split()[:MAX_SENTENCE_WORDS]
        chosen = [replace(chosen[0], text=" ".join(words) + " …")]
        used = MAX_SENTENCE_WORDS
    # More units that share the question's words, best first, while the budget lasts.
    for score, candidate in sorted(scored, key=lambda sc: (-sc[0], sc[1][0].index)):
        size = sum(u.words for u in candidate)
        if score == 0 or candidate[0] in chosen or used + size > budget:
            continue
        chosen.extend(candidate)
        used += size
    return Excerpt(source, tuple(sorted(set(chosen), key=lambda u: u.index)))


def select(question: str, sources: Sequence[Source], max_words: int = MAX_WORDS,
           whole: bool = False, rank: Rank | None = None,
           runner_up: bool = False) -> list[Excerpt]:
    """What to quote: an excerpt of the best source, and one of the next source when it is
    nearly as good and answers part of the question the first does not. `whole`: never a cut
    sentence (a source with no whole sentence is passed over). `rank`: sentences scored by
    it (MIN_RANK at least) instead of by the question's words. `runner_up`: the caller finds
    the next source of another title about as likely to answer: it is quoted whatever it
    adds, each excerpt within half the words."""
    ranked = sorted(sources, key=lambda s: s.score, reverse=True)
    if whole:
        ranked = [s for s in ranked if units(s, whole=True)]
    if not ranked:
        return []
    budget = max_words // 2 if runner_up else max_words
    first = _excerpt(question, ranked[0], budget, whole=whole, rank=rank)
    if first is None:
        return []
    excerpts = [first]
    covered = terms(" ".join(u.scored for u in first.units)) | terms(ranked[0].title)
    for other in ranked[1:]:
        if other.score < ranked[0].score * SECOND_SOURCE_RATIO and not runner_up:
            break
        if other.title == ranked[0].title:
            continue
        second = _excerpt(question, other, max(max_words - first.words, 25),
                          frozenset() if runner_up else covered, whole, rank)
        if second is not None and all(_points_to(u.text, ranked[0].title) for u in second.units):
            continue  # 'see "<the first source>"': it only points at what is quoted already
        if second is not None:
            excerpts.append(second)
            break
    return excerpts


def _points_to(text: str, title: str) -> bool:
    """Whether `text` names the article `title` in quotes (a cross-reference: 'see "…"')."""
    return any(f"{left}{title}{right}" in text for left, right in _QUOTES)


def render(excerpt: Excerpt) -> str:
    """Plain text: sentences as a paragraph, items as "- item", steps numbered from 1, a
    heading and a sub-heading on lines of their own."""
    lines: list[str] = []
    paragraph: list[str] = []

    def own_line(text: str) -> None:  # after the paragraph being written, if any
        if paragraph:
            lines.append(" ".join(paragraph))
            paragraph.clear()
        lines.append(text)

    step = 0
    shown = ""  # the heading the lines above stand under
    for unit in excerpt.units:
        # Not when the quote says it again ("Wildcard domains" / "Wildcard domains (*.…) need").
        if unit.heading != shown and not unit.scored.startswith(unit.heading):
            own_line(unit.heading)
            step = 0
        shown = unit.heading
        if unit.context:
            own_line(unit.context)
        if unit.kind == "sentence":
            paragraph.append(unit.text)
        elif unit.kind == "step":
            step += 1
            own_line(f"{step}. {unit.text}")
        else:
            step = 0
            own_line(f"- {unit.text}")
    if paragraph:
        lines.append(" ".join(paragraph))
    return "\n".join(lines)


# An agent's sentences that hold only for the ticket they were written for, or say nothing
# about the question: left out of snippets and of drafts for other customers.
_GREETING = re.compile(r"^(hi|hello|hey|dear|good (morning|afternoon|evening))\b", re.I)
_COURTESY = re.compile(
    r"^(thanks|thank you|many thanks|sorry|apologies|(we|i) apologi[sz]e|happy to help"
    r"|glad (to|i|we)|no problem|great question|i'm sorry|i am sorry)\b", re.I)
_CLOSING = re.compile(
    r"^(best|regards|kind regards|cheers|thanks again|let (me|us) know|feel free|hope (this|that)"
    r" helps|have a (great|nice|good)|don't hesitate|do not hesitate)\b", re.I)
# What the agent did or saw on the requester's account: true of that ticket, not the next one.
_ONE_CASE = re.compile(
    r"^(I('ve| have| just|'ll| will| went| checked| can see| see| looked)"
    r"|(our|the) (logs|records|scanner) (show|showed|already)|we can see)\b", re.I)


def general(sentence: str) -> bool:
    """Whether an agent's sentence is worth repeating to another customer: not a short
    greeting, thanks or apology, not a sign-off, not what was done on that one account."""
    short = len(sentence.split()) <= 12
    if _GREETING.match(sentence) and len(sentence.split()) <= 6:
        return False
    if (_COURTESY.match(sentence) and short) or _CLOSING.match(sentence):
        return False
    return not _ONE_CASE.match(sentence)
