"""Deskpilot plugin: registers the Freshdesk connector (entry point `deskpilot: freshdesk`)."""

from typing import Any

import deskpilot

from deskpilot_freshdesk.connector import FreshdeskConnector

__all__ = ["FreshdeskConnector"]


@deskpilot.hookimpl
def register_connectors(register: Any) -> None:
    register(FreshdeskConnector)
