"""The model budget: each call's cost from the configured prices, the month's spend against the
budget (switch, one log line), and the cost reports per day, month and conversation — on SQLite
and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deskpilot.core.budget import Budget
from deskpilot.core.config import AgentSettings, ConfigError, Settings, load_settings
from deskpilot.core.services import Services

PRICES = {"gpt-test": {"input": 2.0, "output": 8.0}}  # per 1M tokens


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_budget(database_url: str, tmp_path: Path, clock: Clock, **agent: object
                ) -> tuple[Services, Budget]:
    settings = Settings(data_dir=tmp_path, database={"url": database_url},
                        agent={"provider": "openai-compatible", "model": "gpt-test",
                               "base_url": "http://127.0.0.1:9/v1", "prices": PRICES, **agent})
    services = Services(settings)
    services.migrate()
    budget = Budget(settings.agent, lambda: services.engine, services.metrics, clock=clock)
    return services, budget


def test_a_call_costs_its_tokens_at_the_configured_price() -> None:
    budget = Budget(AgentSettings(prices=PRICES), lambda: None)  # type: ignore[arg-type,return-value]
    assert budget.cost("gpt-test", 1_000_000, 0) == 2.0
    assert budget.cost("gpt-test", 250_000, 500_000) == pytest.approx(0.5 + 4.0)
    assert budget.cost("unpriced", 10_000, 10_000) == 0.0


def test_the_switch_turns_on_once_the_month_reaches_the_budget_and_logs_once(
        database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(datetime(2026, 11, 30, 23, 0, tzinfo=UTC))
    services, budget = make_budget(database_url, tmp_path, clock, monthly_budget=1.0)
    # Last month's spend does not count against this month's budget.
    budget.record("gpt-test", input_tokens=500_000, output_tokens=0, conversation_id="t-old")
    assert budget.status().spent == pytest.approx(1.0) and budget.status().active
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert not budget.status().active and budget.status().spent == 0
    assert not budget.switched()

    budget.record("gpt-test", input_tokens=200_000, output_tokens=50_000, conversation_id="t1")
    status = budget.status()
    assert (status.month, status.spent, status.budget, status.active) == (
        "2026-12", pytest.approx(0.8), 1.0, False)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="deskpilot.core.budget"):
        budget.record("gpt-test", input_tokens=100_000, output_tokens=0, conversation_id="t2")
        budget.record("gpt-test", input_tokens=100_000, output_tokens=0, conversation_id="t2")
        assert budget.status().active and budget.switched()
    reached = [r.getMessage() for r in caplog.records if "model budget reached" in r.getMessage()]
    assert len(reached) == 1, reached
    assert "1.00 USD spent in 2026-12 of the monthly budget of 1.00 USD" in reached[0]
    assert "offline model" in reached[0]
    services.close()


def test_another_process_spending_is_seen_within_the_refresh_interval(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(datetime(2026, 12, 5, tzinfo=UTC))
    services, budget = make_budget(database_url, tmp_path, clock, monthly_budget=1.0)
    other = Budget(services.settings.agent, lambda: services.engine, clock=clock)
    assert budget.status().spent == 0 and not budget.refresh_due()
    other.record("gpt-test", input_tokens=0, output_tokens=200_000)  # 1.6, in "another worker"
    assert not budget.status().active  # still this process's figure
    monkeypatch.setattr("deskpilot.core.budget.REFRESH_SECONDS", 0.0)
    assert budget.refresh_due()
    assert budget.status().active and budget.status().spent == pytest.approx(1.6)
    services.close()


def test_cost_per_conversation_day_and_month(database_url: str, tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    services, budget = make_budget(database_url, tmp_path, clock)
    budget.record("gpt-test", input_tokens=1_000, output_tokens=100, conversation_id="a")
    clock.now = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    budget.record("gpt-test", input_tokens=2_000, output_tokens=200, conversation_id="a")
    budget.record("gpt-test", input_tokens=3_000, output_tokens=300, conversation_id="b")
    clock.now = datetime(2026, 12, 2, 23, 59, tzinfo=UTC)
    budget.record("gpt-test", input_tokens=4_000, output_tokens=400, conversation_id="b")
    budget.record("gpt-test", input_tokens=5_000, output_tokens=0, workflow="draft note")

    def cost(i: int, o: int) -> float:
        return (i * 2.0 + o * 8.0) / 1_000_000

    days = {d.key: d for d in budget.by_day(days=30)}
    assert sorted(days) == ["2026-11-20", "2026-12-01", "2026-12-02"]
    assert (days["2026-12-01"].requests, days["2026-12-01"].input_tokens,
            days["2026-12-01"].output_tokens, days["2026-12-01"].conversations) == (2, 5000, 500, 2)
    assert days["2026-12-02"].cost == pytest.approx(cost(4000, 400) + cost(5000, 0))
    assert days["2026-12-02"].conversations == 1  # the draft note belongs to none
    assert [d.key for d in budget.by_day(days=2)] == ["2026-12-01", "2026-12-02"]

    months = {m.key: m for m in budget.by_month(months=2)}
    assert sorted(months) == ["2026-11", "2026-12"]
    assert months["2026-12"].cost == pytest.approx(cost(14_000, 900))
    assert [m.key for m in budget.by_month(months=1)] == ["2026-12"]

    ranked = budget.by_conversation()  # this month's, costliest first
    assert [(c.key, c.requests) for c in ranked] == [("b", 2), ("a", 1)]
    assert ranked[0].cost == pytest.approx(cost(7000, 700))
    whole = budget.conversation("a")  # every month
    assert (whole.requests, whole.input_tokens, whole.output_tokens) == (2, 3000, 300)
    assert budget.conversation("nobody").requests == 0
    services.close()


def test_a_budget_for_an_unpriced_model_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "deskpilot.toml"
    path.write_text('[agent]\nprovider = "openai"\nmodel = "gpt-x"\nmonthly_budget = 50\n')
    with pytest.raises(ConfigError, match=r'agent: .*monthly_budget needs a price for model '
                                          r"'gpt-x'"):
        load_settings(path)
    path.write_text('[agent]\nprovider = "openai"\nmodel = "gpt-x"\nmonthly_budget = 50\n'
                    'over_budget = "handover"\n[agent.prices."gpt-x"]\ninput = 0.4\n'
                    'output = 1.6\n')
    agent = load_settings(path).agent
    assert (agent.monthly_budget, agent.over_budget, agent.prices["gpt-x"].output) == (
        50, "handover", 1.6)
    path.write_text('[agent]\nover_budget = "refuse"\n')
    with pytest.raises(ConfigError, match="agent.over_budget"):
        load_settings(path)
