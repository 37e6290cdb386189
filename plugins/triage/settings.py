"""Triage's keys of `[automation]`."""

from __future__ import annotations

from pydantic import Field

import deskpilot


class TriageSettings(deskpilot.Options):
    # Triage each ticket a helpdesk webhook reports.
    triage: bool = True
    # Triage abstains (routes to a person) below a confidence threshold set on the training
    # tickets: the share of tickets it gets right that it may still route to a person (the
    # threshold never exceeds 0.475, see model.MAX_THRESHOLD).
    triage_max_missed: float = Field(0.02, ge=0, lt=1)
