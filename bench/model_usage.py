"""What cost accounting adds: recording one model call, and the budget and report queries over
a month of calls.

    python bench/model_usage.py [--calls 100000] [--database-url sqlite:///...]

Fills `model_usage` with `--calls` calls spread over this month (bulk insert, one conversation
per 3 calls), then times `Budget.record` (one call: an INSERT and commit, what each LLM call
waits for at its end), `Budget.status` re-reading the month's spend (at most every 30 s per
process), and the dashboard's reports. Prints one JSON object, times in milliseconds (median
of `--repeat` runs; `record` of 200).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from deskpilot._time import utcnow
from deskpilot.core.budget import Budget, month_start
from deskpilot.core.config import Settings
from deskpilot.core.services import Services
from deskpilot.core.tables import ModelUsage


def timed(fn, repeat: int) -> float:  # noqa: ANN001 - any callable
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), connectors={}, database={"url": args.database_url},
                            agent={"prices": {"gpt-4.1-mini": {"input": 0.4, "output": 1.6}},
                                   "monthly_budget": 1e9})
        services = Services(settings)
        services.migrate()
        budget = Budget(settings.agent, lambda: services.engine)
        start = month_start(utcnow())
        span = max((utcnow() - start).total_seconds(), 1.0)
        rows = [{"at": start + timedelta(seconds=span * i / args.calls),
                 "conversation_id": f"t{i // 3}", "workflow": "customer chat",
                 "model": "gpt-4.1-mini", "requests": 1, "input_tokens": 1200,
                 "output_tokens": 150, "cost": 0.00072} for i in range(args.calls)]
        started = time.perf_counter()
        with services.engine.begin() as connection:
            for at in range(0, len(rows), 10_000):
                connection.execute(insert(ModelUsage), rows[at:at + 10_000])
        filled = time.perf_counter() - started
        record = timed(lambda: budget.record("gpt-4.1-mini", input_tokens=1200,
                                             output_tokens=150, conversation_id="bench"), 200)

        def reread() -> None:
            budget._read_at = -float("inf")  # force the database read status() does every 30 s
            budget.status()

        result = {
            "database": services.engine.dialect.name,
            "calls_this_month": args.calls,
            "fill_seconds": round(filled, 1),
            "record_ms": record,
            "status_reread_ms": timed(reread, args.repeat),
            "status_cached_ms": timed(budget.status, args.repeat),
            "by_day_30_ms": timed(lambda: budget.by_day(30), args.repeat),
            "by_month_12_ms": timed(lambda: budget.by_month(12), args.repeat),
            "by_conversation_50_ms": timed(lambda: budget.by_conversation(50), args.repeat),
            "conversation_ms": timed(lambda: budget.conversation("t42"), args.repeat),
        }
        services.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
