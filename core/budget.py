"""What the models cost, and the monthly budget that keeps it from surprising anyone.

Every LLM call's tokens are recorded (table `model_usage`) with the cost estimated from
`[agent.prices]`. The month's spend (calendar month, UTC) is kept in memory, re-read from the
database at most every `REFRESH_SECONDS` (other server processes spend too). When it reaches
`[agent] monthly_budget`, the switch is on: the customer agent answers with the offline model,
or the escalation plugin hands each conversation to a person (`over_budget = "handover"`), until
the month ends or the budget is raised; operators get one log line, the `/admin` banner
(`status()`) and the `deskpilot_model_budget_exceeded` gauge.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from deskpilot._time import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from deskpilot.core.config import AgentSettings
    from deskpilot.core.metrics import Metrics

log = logging.getLogger(__name__)

# How stale this process's figure of the month's spend may be: other workers' calls count
# within this long.
REFRESH_SECONDS = 30.0

#: (conversation id, workflow) of the model calls made in this context: the chat server sets it
#: for a turn; the Agents SDK's run task inherits it. Calls outside a chat have no conversation.
call_scope: ContextVar[tuple[str | None, str]] = ContextVar("deskpilot_model_call_scope",
                                                            default=(None, ""))


@dataclass(frozen=True)
class BudgetStatus:
    """The month's model spend against the budget, for the dashboard's banner and figures.

    `active`: the switch is on (a budget is set and the month's spend reached it), so the
    customer agent answers as `over_budget` says ("offline" model, or "handover" to a person).
    """

    month: str  # "2026-12", UTC
    spent: float
    budget: float  # 0: no budget
    currency: str
    over_budget: str
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UsageTotal:
    """Tokens and estimated cost of a group of model calls (a day, a month, a conversation)."""

    key: str  # the day ("2026-12-01"), month ("2026-12") or conversation id
    requests: int
    input_tokens: int
    output_tokens: int
    cost: float
    conversations: int = 0  # distinct conversations among the calls (days and months)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class Budget:
    """Records model calls and answers what they cost. Thread-safe; blocking methods read or
    write the database (call them off the event loop)."""

    def __init__(self, settings: AgentSettings, engine: Callable[[], Engine],
                 metrics: Metrics | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self._engine = engine
        self.metrics = metrics
        self.clock = clock
        self._lock = threading.Lock()
        self._month: str | None = None  # the month `_spent` is of; None: not read yet
        self._spent = 0.0
        self._read_at = -float("inf")
        self._announced: str | None = None  # the month the switch was logged for
        self._unpriced: set[str] = set()

    # -- prices -----------------------------------------------------------------------------
    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """The estimated cost of a call, from `[agent.prices]`; 0 for a model without a price
        (said once per model in the log)."""
        price = self.settings.prices.get(model)
        if price is None:
            if model not in self._unpriced:
                self._unpriced.add(model)
                log.warning("no price for model %r in [agent.prices]: its calls are counted "
                            "at 0 %s", model, self.settings.currency)
            return 0.0
        return price.cost(input_tokens, output_tokens)

    # -- recording --------------------------------------------------------------------------
    def record(self, model: str, *, input_tokens: int, output_tokens: int, requests: int = 1,
               conversation_id: str | None = None, workflow: str = "") -> float:
        """Store one model call and count it; returns its estimated cost. Blocking."""
        from deskpilot.core.tables import ModelUsage
        from deskpilot.knowledge.store import session_scope

        cost = self.cost(model, input_tokens, output_tokens)
        at = self.clock()
        with session_scope(self._engine()) as session:
            session.add(ModelUsage(at=at, conversation_id=conversation_id, workflow=workflow,
                                   model=model, requests=requests, input_tokens=input_tokens,
                                   output_tokens=output_tokens, cost=cost))
        if self.metrics is not None:
            self.metrics.model_call(model, input_tokens, output_tokens, cost)
        with self._lock:
            if self._month == at.strftime("%Y-%m"):
                self._spent += cost
        self.status()  # re-reads when stale, and announces the switch
        return cost

    # -- the budget -------------------------------------------------------------------------
    def refresh_due(self) -> bool:
        """Whether `status()` would read the database (so async callers hop to a thread only
        then): a budget is set and the figure is missing, stale or of last month."""
        if not self.settings.monthly_budget:
            return False
        return (self._month != self.clock().strftime("%Y-%m")
                or time.monotonic() - self._read_at > REFRESH_SECONDS)

    def status(self) -> BudgetStatus:
        """This month's spend and the switch. Blocking when the figure is stale (a database
        read at most every REFRESH_SECONDS)."""
        now = self.clock()
        month = now.strftime("%Y-%m")
        if self._month != month or time.monotonic() - self._read_at > REFRESH_SECONDS:
            spent = self._month_spend(now)
            with self._lock:
                self._month, self._spent, self._read_at = month, spent, time.monotonic()
        return self._status(month)

    def switched(self) -> bool:
        """Whether the customer agent must stop using the LLM, from the last figure read (never
        blocks: the chat server refreshes it through `status()` when `refresh_due()`)."""
        if not self.settings.monthly_budget or self._month is None:
            return False
        return self._status(self._month).active

    def _status(self, month: str) -> BudgetStatus:
        budget = self.settings.monthly_budget
        spent = self._spent
        active = bool(budget) and spent >= budget
        with self._lock:  # one line per month, whichever thread sees it first
            announce = active and self._announced != month
            if announce:
                self._announced = month
        if announce:
            action = ("hands conversations to a person" if self.settings.over_budget
                      == "handover" else "answers with the offline model")
            log.warning("model budget reached: %.2f %s spent in %s of the monthly budget of "
                        "%.2f %s; the customer agent now %s until the month ends or "
                        "[agent] monthly_budget is raised", spent, self.settings.currency,
                        month, budget, self.settings.currency, action)
        return BudgetStatus(month=month, spent=round(spent, 6), budget=budget,
                            currency=self.settings.currency,
                            over_budget=self.settings.over_budget, active=active)

    def _month_spend(self, now: datetime) -> float:
        from sqlalchemy import func
        from sqlmodel import Session, select

        from deskpilot.core.tables import ModelUsage

        with Session(self._engine()) as session:
            total = session.exec(select(func.coalesce(func.sum(ModelUsage.cost), 0.0)).where(
                ModelUsage.at >= month_start(now))).one()
        return float(total)

    # -- reports (the dashboard) ------------------------------------------------------------
    def by_day(self, days: int = 30) -> list[UsageTotal]:
        """Each of the last `days` days (UTC) with model calls, oldest first."""
        since = self.clock().astimezone(UTC).replace(hour=0, minute=0, second=0,
                                                     microsecond=0) - timedelta(days=days - 1)
        return self._grouped(10, since)

    def by_month(self, months: int = 12) -> list[UsageTotal]:
        """Each of the last `months` calendar months (UTC) with model calls, oldest first."""
        start = month_start(self.clock())
        for _ in range(months - 1):
            start = month_start(start - timedelta(days=1))
        return self._grouped(7, start)

    def by_conversation(self, limit: int = 50, since: datetime | None = None
                        ) -> list[UsageTotal]:
        """The costliest conversations (since `since`, default this month), costliest first."""
        from sqlalchemy import func
        from sqlmodel import Session, col, select

        from deskpilot.core.tables import ModelUsage

        since = since or month_start(self.clock())
        cost = func.sum(ModelUsage.cost)
        query = (select(ModelUsage.conversation_id, func.sum(ModelUsage.requests),
                        func.sum(ModelUsage.input_tokens), func.sum(ModelUsage.output_tokens),
                        cost)
                 .where(ModelUsage.at >= since, col(ModelUsage.conversation_id).is_not(None))
                 .group_by(ModelUsage.conversation_id).order_by(cost.desc()).limit(limit))
        with Session(self._engine()) as session:
            rows = session.exec(query).all()
        return [UsageTotal(key=str(key), requests=int(r), input_tokens=int(i),
                           output_tokens=int(o), cost=float(c)) for key, r, i, o, c in rows]

    def conversation(self, conversation_id: str) -> UsageTotal:
        """All model calls of one conversation."""
        from sqlalchemy import func
        from sqlmodel import Session, select

        from deskpilot.core.tables import ModelUsage

        query = select(func.coalesce(func.sum(ModelUsage.requests), 0),
                       func.coalesce(func.sum(ModelUsage.input_tokens), 0),
                       func.coalesce(func.sum(ModelUsage.output_tokens), 0),
                       func.coalesce(func.sum(ModelUsage.cost), 0.0)
                       ).where(ModelUsage.conversation_id == conversation_id)
        with Session(self._engine()) as session:
            r, i, o, c = session.exec(query).one()
        return UsageTotal(key=conversation_id, requests=int(r), input_tokens=int(i),
                          output_tokens=int(o), cost=float(c))

    def _grouped(self, prefix: int, since: datetime) -> list[UsageTotal]:
        """Totals per calendar day (`prefix` 10: "YYYY-MM-DD") or month (7), UTC."""
        from sqlalchemy import func
        from sqlmodel import Session, select

        from deskpilot.core.tables import ModelUsage

        engine = self._engine()
        if engine.dialect.name == "postgresql":
            period = func.to_char(func.timezone("UTC", ModelUsage.at),
                                  "YYYY-MM-DD" if prefix == 10 else "YYYY-MM")
        else:  # SQLite keeps the UTC time as text, "YYYY-MM-DD HH:MM:SS.ffffff"
            period = func.substr(ModelUsage.at, 1, prefix)
        query = (select(period, func.sum(ModelUsage.requests), func.sum(ModelUsage.input_tokens),
                        func.sum(ModelUsage.output_tokens), func.sum(ModelUsage.cost),
                        func.count(func.distinct(ModelUsage.conversation_id)))
                 .where(ModelUsage.at >= since).group_by(period).order_by(period))
        with Session(engine) as session:
            rows = session.exec(query).all()
        return [UsageTotal(key=str(key), requests=int(r), input_tokens=int(i),
                           output_tokens=int(o), cost=float(c), conversations=int(n))
                for key, r, i, o, c, n in rows]
