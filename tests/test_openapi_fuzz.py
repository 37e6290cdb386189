"""Every route of the OpenAPI spec, fed property-based requests by schemathesis: never a 5xx.

The app is the embedded defaults with every built-in plugin and an admin token, so the admin
routes are reached past their authentication too. Requests are drawn from every operation, both
as the schema describes them (positive) and as it forbids them (negative).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from deskpilot.core.app import create_app
from deskpilot.core.config import ServerSettings
from tests.plugins.helpers import embedded_defaults

ADMIN = {"Authorization": "Bearer fuzz-admin-token"}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[st.SearchStrategy[Any]]:
    """Requests to any operation of the app's own spec."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    services = embedded_defaults(data_dir, server=ServerSettings(admin_token="fuzz-admin-token"),
                                 connectors={})
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(services=services))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10  # the core's routes and the plugins'
    yield st.one_of([operation.as_strategy(mode) for operation in operations
                     for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)])
    services.close()


# pytest's (not hypothesis') fixture: built once, drawn from by every example.
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(data=st.data())
def test_no_route_answers_a_5xx(cases: st.SearchStrategy[Any], data: st.DataObject) -> None:
    case = data.draw(cases)
    response = case.call(headers=ADMIN)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}")
