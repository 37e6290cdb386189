"""The `local` connector: a folder of help articles and solved tickets on disk.

    articles:  *.md (optional `---` front matter: id, title, url, locale) and *.html
               articles*.jsonl  {id, title, body_html, url?, locale?, updated_at?, published?}
    tickets:   tickets*.jsonl   {id, subject, description, comments: [{author_role, body, public,
                                 author?}], tags, status, priority?, category?, updated_at,
                                 requester?}   (a person: {name?, email?, organization?})

Without a `path` it serves the demo help center shipped in `connectors/demo-help-center`, so a fresh
install answers questions out of the box. The checkpoint remembers each file's size, mtime,
hash and document ids: an incremental run reads only changed files and reports the documents
that vanished from them (or with them) as deleted. Write-backs have no helpdesk to go to, so
they are kept in the database as audit events.

It is also a helpdesk for the relay of a handed-over conversation (demo and tests): a person's
reply comes in through its own webhook, `POST /v1/webhooks/<name>` signed with
`X-Deskpilot-Signature: sha256=<hex HMAC-SHA256 of the body, keyed by webhook_secret>`::

    {"ticket_id": "local-…", "status": "open",
     "comment": {"id": "c1", "author_name": "Dana", "body": "…", "public": true}}

(`comment` and `status` both optional; status one of open, pending, solved, closed). The
comments are kept as audit events too, with the customer's chat messages beside them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from markdown_it import MarkdownIt
from pydantic import SecretStr, ValidationError

import deskpilot
from deskpilot import (
    Article,
    Capability,
    Connector,
    ConnectorOptions,
    CustomerMessage,
    DocumentFailure,
    DocumentKind,
    DocumentRef,
    EscalationRequest,
    SyncPage,
    Ticket,
    TicketConversation,
    TicketMessage,
)

DEMO_PATH = Path(__file__).parent / "demo-help-center"
# Documents per page: the engine commits (and checkpoints) once per page.
PAGE_SIZE = 20
_CHECKPOINT_VERSION = 1
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# CommonMark with tables; raw HTML off, so "Click <Save>" stays the text its author wrote.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


class LocalOptions(ConnectorOptions):
    # A folder (searched recursively); empty means the shipped demo help center.
    path: Path | None = None
    # Signs the connector's own webhook (the relay's demo and tests); unset: no webhooks.
    webhook_secret: SecretStr | None = None


def _iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def markdown_to_html(text: str) -> str:
    """Markdown as HTML (markdown-it-py): headings, lists, tables, quotes, code, emphasis."""
    return _MARKDOWN.render(text)


def _unquoted(value: str) -> str:
    """A front-matter value without the quotes around it: a pair only, so 'Stuck on "pending"'
    keeps its own."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = _unquoted(value.strip())
    return meta, text[match.end():]


def _doc_id(relative: str) -> str:
    return relative.rsplit(".", 1)[0]


def _read_markdown(relative: str, text: str, mtime: float) -> Article:
    meta, body = _front_matter(text)
    title = meta.get("title")
    if title is None:
        first = next((line for line in body.splitlines() if line.strip()), "")
        heading = _HEADING.match(first)
        if heading and len(heading.group(1)) == 1:
            title = heading.group(2)
            body = body.split(first, 1)[1]  # the title is not repeated as a section
    return Article(
        id=meta.get("id") or _doc_id(relative),
        title=title or Path(relative).stem.replace("-", " ").capitalize(),
        body_html=markdown_to_html(body),
        url=meta.get("url") or None,
        locale=meta.get("locale") or "en",
        updated_at=_iso(mtime),
        published=meta.get("draft", "false").lower() != "true",
    )


def _read_html(relative: str, text: str, mtime: float) -> Article:
    from bs4 import BeautifulSoup  # only for the HTML files of a folder

    soup = BeautifulSoup(text, "html.parser")
    h1 = soup.find("h1")
    title_tag = soup.find("title")
    title = (title_tag or h1).get_text(" ", strip=True) if (title_tag or h1) else ""
    canonical = soup.find("link", rel="canonical")
    root = soup.find("html")
    body = soup.find("body") or soup
    return Article(
        id=_doc_id(relative),
        title=title or Path(relative).stem.replace("-", " ").capitalize(),
        body_html=str(body),
        url=canonical.get("href") if canonical else None,
        locale=(root.get("lang") if root else None) or "en",
        updated_at=_iso(mtime),
    )


def _assume_utc(record: dict[str, Any], key: str = "updated_at") -> None:
    # Hand-written files often omit the zone; a local file's times are taken as UTC.
    value = record.get(key)
    if isinstance(value, str) and value and not re.search(r"(Z|[+-]\d\d:?\d\d)$", value):
        record[key] = value + "+00:00"


def _jsonl_records(
    relative: str, text: str, model: Callable[[dict[str, Any]], Article | Ticket],
    kind: DocumentKind,
) -> tuple[list[Article | Ticket], list[DocumentFailure]]:
    documents: list[Article | Ticket] = []
    failures: list[DocumentFailure] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{relative}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            failures.append(DocumentFailure(where=where, error=f"not valid JSON: {exc}"))
            continue
        if not isinstance(record, dict):
            failures.append(DocumentFailure(where=where, error="not a JSON object"))
            continue
        known = record.get("id")
        ref = DocumentRef(kind=kind, id=str(known)) if known not in (None, "") else None
        try:
            _assume_utc(record)
            for comment in record.get("comments") or []:
                if isinstance(comment, dict):
                    _assume_utc(comment, "created_at")
            documents.append(model(record))
        except (ValidationError, TypeError, ValueError) as exc:
            first = str(exc).splitlines()
            reason = " ".join(first[1:3]).strip() if len(first) > 1 else first[0]
            failures.append(DocumentFailure(where=where, error=reason, ref=ref))
    return documents, failures


def _ticket(record: dict[str, Any]) -> Ticket:
    return Ticket.model_validate(record)


def _article(record: dict[str, Any]) -> Article:
    if "draft" in record:  # Zendesk's spelling of "not published"
        record["published"] = not record.pop("draft")
    return Article.model_validate(record)


def read_file(
    root: Path, path: Path
) -> tuple[list[Article | Ticket], list[DocumentFailure]]:
    """The documents in one file, and the records in it that could not be read."""
    relative = path.relative_to(root).as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        # One article per .md/.html file: its identity is known, so what is indexed stays.
        ref = (None if path.suffix == ".jsonl"
               else DocumentRef(kind=DocumentKind.ARTICLE, id=_doc_id(relative)))
        return [], [DocumentFailure(where=relative, error=f"cannot read: {exc}", ref=ref)]
    mtime = path.stat().st_mtime
    name = path.name
    if name.endswith(".jsonl"):
        if name.startswith("tickets"):
            return _jsonl_records(relative, text, _ticket, DocumentKind.TICKET)
        return _jsonl_records(relative, text, _article, DocumentKind.ARTICLE)
    try:
        reader = _read_markdown if path.suffix == ".md" else _read_html
        return [reader(relative, text, mtime)], []
    except (ValidationError, ValueError) as exc:
        ref = DocumentRef(kind=DocumentKind.ARTICLE, id=_doc_id(relative))
        return [], [DocumentFailure(where=relative, error=str(exc).splitlines()[0], ref=ref)]


def _is_knowledge(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.upper().startswith("README"):
        return False
    if path.suffix in (".md", ".html"):
        return True
    return path.suffix == ".jsonl" and name.startswith(("articles", "tickets"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ref_key(ref: DocumentRef) -> str:
    return f"{ref.kind}:{ref.id}"


def _ref(key: str) -> DocumentRef:
    kind, _, doc_id = key.partition(":")
    return DocumentRef(kind=DocumentKind(kind), id=doc_id)


class LocalConnector(Connector):
    type: ClassVar[str] = "local"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.NOTES, Capability.TAGS, Capability.TICKETS, Capability.WEBHOOKS,
         Capability.RELAY}
    )
    full_listing: ClassVar[bool] = True
    Options: ClassVar[type[ConnectorOptions]] = LocalOptions

    options: LocalOptions

    @property
    def root(self) -> Path:
        return (self.options.path or DEMO_PATH).expanduser().resolve()

    def _files(self) -> list[Path]:
        root = self.root
        if not root.is_dir():
            raise FileNotFoundError(f"connector {self.name}: folder {root} does not exist")
        return sorted(p for p in root.rglob("*") if p.is_file() and _is_knowledge(p))

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[SyncPage]:
        root = self.root
        known: dict[str, dict[str, Any]] = {}
        if (
            checkpoint
            and checkpoint.get("version") == _CHECKPOINT_VERSION
            and checkpoint.get("root") == str(root)
        ):
            known = {k: dict(v) for k, v in checkpoint.get("files", {}).items()}
        state = dict(known)
        page = SyncPage()
        count = 0

        def emit() -> SyncPage:
            nonlocal page, count
            done = page.model_copy(update={"checkpoint": {
                "version": _CHECKPOINT_VERSION, "root": str(root), "files": dict(state),
            }})
            page, count = SyncPage(), 0
            return done

        for path in self._files():
            relative = path.relative_to(root).as_posix()
            stat = path.stat()
            before = known.get(relative)
            signature = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            if before and all(before.get(k) == v for k, v in signature.items()):
                continue
            digest = _sha256(path)
            if before and before.get("sha256") == digest:  # touched, not changed
                state[relative] = {**before, **signature}
                continue
            documents, failures = read_file(root, path)
            if any(f.where == relative for f in failures):  # unreadable: retry next run
                page.failures.extend(failures)
                continue
            ids = {_ref_key(DocumentRef(kind=d.kind, id=d.id)) for d in documents}
            # A record that failed to parse keeps its place: what was indexed stays indexed.
            ids |= {_ref_key(f.ref) for f in failures if f.ref is not None}
            gone = set(before.get("ids", [])) - ids if before else set()
            page.documents.extend(documents)
            page.failures.extend(failures)
            page.deleted.extend(_ref(key) for key in sorted(gone))
            state[relative] = {**signature, "sha256": digest, "ids": sorted(ids)}
            count += len(documents) + len(failures)
            if count >= PAGE_SIZE:
                yield emit()
        present = {p.relative_to(root).as_posix() for p in self._files()}
        for relative in sorted(set(state) - present):  # files removed since the checkpoint
            page.deleted.extend(_ref(key) for key in state.pop(relative).get("ids", []))
        if page.documents or page.deleted or page.failures or state != known or not known:
            yield emit()

    def tag_vocabulary(self) -> list[str]:
        tags: set[str] = set()
        for path in self._files():
            if path.name.startswith("tickets"):
                documents, _ = read_file(self.root, path)
                tags.update(t for d in documents if isinstance(d, Ticket) for t in d.tags)
        return sorted(tags)

    # -- write-backs: no helpdesk behind a folder, so they are kept as audit events ------------
    def _record(self, kind: str, subject: str, **data: Any) -> None:
        if self.platform is None:
            raise deskpilot.NotSupported(
                f"connector {self.name}: write-backs need the running platform"
            )
        self.platform.audit(kind, subject, connector=self.name, **data)

    def add_note(self, ticket_id: str, body: str) -> None:
        self._record("local.note", ticket_id, body=body)

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._record("local.tags", ticket_id, tags=list(tags))

    def create_ticket(self, request: EscalationRequest) -> str:
        ticket_id = f"local-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"
        self._record("local.ticket", ticket_id, request=request.model_dump(mode="json"))
        return ticket_id

    # -- the relay: a ticket's comments and status, as audit events ----------------------------
    def _platform(self) -> deskpilot.Platform:
        if self.platform is None:
            raise deskpilot.NotSupported(f"connector {self.name}: the relay needs the platform")
        return self.platform

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        if self.options.webhook_secret is None:
            return False
        lower = {k.lower(): v for k, v in headers.items()}
        secret = self.options.webhook_secret.get_secret_value().encode()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, lower.get("x-deskpilot-signature", ""))

    def add_comment(self, ticket_id: str, comment_id: str, body: str, *, author_role: str,
                    author_name: str | None = None, public: bool = True) -> bool:
        """Keep a comment on a local ticket; False if one with this id is there already."""
        platform = self._platform()
        if any(c.get("id") == comment_id for c in platform.audit_log("local.comment", ticket_id)):
            return False
        self._record("local.comment", ticket_id, id=comment_id, body=body,
                     author_role=author_role, author_name=author_name, public=public,
                     created_at=datetime.now(UTC).isoformat())
        return True

    def set_status(self, ticket_id: str, status: str) -> None:
        self._record("local.status", ticket_id, status=status)

    def conversation(self, ticket_id: str, webhook: Mapping[str, Any] | None = None
                     ) -> TicketConversation:
        if webhook and str(webhook.get("ticket_id")) == ticket_id:
            comment = webhook.get("comment")
            if isinstance(comment, dict) and comment.get("id") and comment.get("body"):
                self.add_comment(ticket_id, str(comment["id"]), str(comment["body"]),
                                 author_role="agent", author_name=comment.get("author_name"),
                                 public=comment.get("public") is not False)
            if webhook.get("status") in ("open", "pending", "solved", "closed"):
                self.set_status(ticket_id, webhook["status"])
        platform = self._platform()
        statuses = platform.audit_log("local.status", ticket_id)
        return TicketConversation(
            ticket_id=ticket_id,
            status=statuses[-1]["status"] if statuses else "open",
            messages=[TicketMessage(
                id=c["id"], author_role=c["author_role"], author_name=c.get("author_name"),
                body=c["body"], public=c["public"],
                created_at=datetime.fromisoformat(c["created_at"]))
                for c in platform.audit_log("local.comment", ticket_id)],
        )

    def add_customer_message(self, ticket_id: str, message: CustomerMessage) -> str:
        comment_id = "cust-" + hashlib.sha256(message.key.encode()).hexdigest()[:16]
        self.add_comment(ticket_id, comment_id, message.body, author_role="customer",
                         author_name=message.customer_name or message.customer_email)
        return comment_id


@deskpilot.hookimpl
def register_connectors(register: Callable[[type[Any]], None]) -> None:
    register(LocalConnector)
