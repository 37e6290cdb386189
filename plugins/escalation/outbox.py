"""The escalation outbox: a conversation handed to a person is a row first, a helpdesk ticket
second, so a helpdesk outage delays the ticket but never loses it.

    record()       row `pending` (one per thread: the row is what says a person owns it)
    deliver()      claim the row (a lease, so two workers never send it twice), call the
                   connector's create_ticket, then `delivered` with its ticket ref — or back to
                   `pending` with the error and a later `next_attempt_at` (exponential backoff)
    deliver_due()  what the retry worker runs: every pending row whose time has come

Delivery is at-least-once only if a process dies between the helpdesk's answer and the row
update; connectors make that safe with an idempotency key (Zendesk uses the thread id).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import deskpilot
from deskpilot import utcnow

from .settings import EscalationSettings
from .tables import Escalation, EscalationStatus

log = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
# Longer than a connector call with its own retries: a claimed row is not claimed again before.
LEASE = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


class EscalationOutbox:
    def __init__(self, platform: deskpilot.Platform) -> None:
        self.platform = platform
        self.engine = platform.engine

    def target(self) -> str | None:
        """`[escalation] connector`, else the first connector that can create tickets."""
        configured = self.platform.settings_for(EscalationSettings).connector
        if configured is not None:
            return configured
        for name, connector in self.platform.connectors.items():
            if deskpilot.Capability.TICKETS in connector.capabilities:
                return name
        return None

    def record(
        self, thread_id: str, user_id: str, request: deskpilot.EscalationRequest
    ) -> tuple[Escalation, bool]:
        """The thread's escalation and whether it is new (a thread is escalated once)."""
        now = utcnow()
        row = Escalation(
            id=f"esc_{uuid.uuid4().hex}", thread_id=thread_id, user_id=user_id,
            connector=self.target() or "", request=request.model_dump(mode="json"),
            customer_email=request.customer_email, created_at=now, next_attempt_at=now,
        )
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                existing = self._for_thread(session, thread_id)
                if existing is not None:
                    return existing, False
                session.add(row)
                session.commit()
        except IntegrityError:  # the same thread escalated concurrently: that row wins
            with Session(self.engine) as session:
                existing = self._for_thread(session, thread_id)
            if existing is None:
                raise
            return existing, False
        self.platform.audit("escalation.recorded", row.id, thread_id=thread_id,
                            connector=row.connector)
        return row, True

    def for_thread(self, thread_id: str) -> Escalation | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return self._for_thread(session, thread_id)

    @staticmethod
    def _for_thread(session: Session, thread_id: str) -> Escalation | None:
        return session.exec(select(Escalation).where(Escalation.thread_id == thread_id)).first()

    def _claim(self, escalation_id: str, now: datetime) -> bool:
        stmt = (
            update(Escalation)
            .where(
                col(Escalation.id) == escalation_id,
                col(Escalation.status) == EscalationStatus.PENDING,
                col(Escalation.next_attempt_at) <= now,
            )
            .values(next_attempt_at=now + LEASE)
        )
        with Session(self.engine) as session:
            claimed = session.execute(stmt).rowcount == 1  # type: ignore[attr-defined]
            session.commit()
        return claimed

    def _send(self, row: Escalation) -> str:
        name = row.connector or self.target()
        if not name:
            raise LookupError("no configured connector can create tickets")
        connector = self.platform.connector(name)
        if deskpilot.Capability.TICKETS not in connector.capabilities:
            raise deskpilot.NotSupported(f"connector {name!r} cannot create tickets")
        return connector.create_ticket(deskpilot.EscalationRequest.model_validate(row.request))

    def deliver(self, escalation_id: str, now: datetime | None = None) -> Escalation | None:
        """One delivery attempt, if the row is pending and due; None if it was not ours to try."""
        now = now or utcnow()
        if not self._claim(escalation_id, now):
            return None
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Escalation, escalation_id)
        assert row is not None  # claimed just now; rows are never deleted
        row.attempts += 1
        # No transaction is open while the helpdesk is called: it may take a while to answer.
        try:
            row.ticket_ref = self._send(row)
        except deskpilot.NotSupported as exc:
            # Retrying cannot help; the row stays listed for an operator.
            row.status, row.last_error = EscalationStatus.FAILED, str(exc)
        except Exception as exc:  # helpdesk down, 5xx after retries, misconfiguration
            row.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            row.next_attempt_at = now + backoff(row.attempts)
            log.warning("escalation %s not delivered (attempt %d): %s",
                        row.id, row.attempts, row.last_error)
        else:
            row.status, row.delivered_at, row.last_error = EscalationStatus.DELIVERED, now, None
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
        self.platform.audit(f"escalation.{row.status}", row.id, thread_id=row.thread_id,
                            attempts=row.attempts, ticket_ref=row.ticket_ref,
                            error=row.last_error)
        if row.status == EscalationStatus.DELIVERED:
            self.platform.emit(deskpilot.ConversationEscalated(
                thread_id=row.thread_id, ticket_ref=row.ticket_ref, request=row.request))
        return row

    def deliver_due(self, now: datetime | None = None) -> list[Escalation]:
        """Try every pending escalation whose next attempt is due; what was attempted."""
        now = now or utcnow()
        with Session(self.engine) as session:
            due = session.exec(
                select(Escalation.id)
                .where(Escalation.status == EscalationStatus.PENDING,
                       col(Escalation.next_attempt_at) <= now)
                .order_by(col(Escalation.created_at))
            ).all()
        attempted = [self.deliver(escalation_id, now) for escalation_id in due]
        return [row for row in attempted if row is not None]

    def list(self, status: EscalationStatus | None = None) -> list[Escalation]:
        with Session(self.engine) as session:
            query = select(Escalation).order_by(col(Escalation.created_at).desc())
            if status is not None:
                query = query.where(Escalation.status == status)
            return list(session.exec(query).all())


def to_json(row: Escalation) -> dict[str, Any]:
    """What `deskpilot escalations --json` prints for one row."""
    data = row.model_dump(mode="json")
    for key in ("created_at", "next_attempt_at", "delivered_at"):
        value = getattr(row, key)
        data[key] = value.isoformat() if value is not None else None
    return data
