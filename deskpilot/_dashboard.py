"""Pages plugins add to the operator dashboard (`register_dashboard_pages`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deskpilot._platform import Platform

#: What a page's name may be: one URL segment.
PAGE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
#: GET: the query's parameters → the template's variables. Runs in a worker thread.
PageContext = Callable[["Platform", Mapping[str, str]], Mapping[str, Any]]
#: POST: the form's fields → the message the operator sees next. A `ClientError` is shown as
#: the error it is. Runs in a worker thread.
PageAction = Callable[["Platform", Mapping[str, str]], str]


@dataclass(frozen=True)
class DashboardPage:
    """`GET /admin/<name>` renders `template` (Jinja2, autoescaped) with `context(...)`;
    a template starts with `{% extends "page.html" %}` and fills `{% block content %}`, and
    its forms post to `/admin/<name>/<action>` with `{{ csrf_field() }}` inside. The dashboard
    checks the operator and the CSRF token before `actions[action]` runs."""

    name: str  # one URL segment (PAGE_NAME)
    title: str  # the navigation's label
    template: Path
    context: PageContext
    actions: Mapping[str, PageAction] = field(default_factory=dict)
