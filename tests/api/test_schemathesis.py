"""The app against its own OpenAPI schema: schemathesis, in-process over WSGI, as each role.

Every operation of the schema is called with MAX_EXAMPLES inputs generated from it, valid and
invalid ones (schemathesis' positive and negative modes), derandomized: each run sends the same
requests in the same order, over the fixtures' two trees and four users. Each answer must be no
5xx (not_a_server_error), a status the operation documents (status_code_conformance), of the
content type it documents, and match the documented body (the `Error` format of every error
included). One test per role lists every operation that failed, with the request to reproduce.

Not schemathesis' pytest plugin (`schema.parametrize()`): one item per operation would set the
fixtures up some 200 times, and its lazy loader does not run on pytest 9.2 (`Node._nodeid`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import BaseSchema, Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from engagements.services import token_create

pytestmark = [pytest.mark.slow]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 5


@pytest.fixture
def _wsgi_in_the_test_transaction() -> Iterator[None]:
    # Django's test client does the same: a request must not close the test's connection
    # (and with it the transaction the test runs in).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(
    rev_tree, ads_tree, manager, supervisor, vendor_user, viewer, settings
) -> dict[str, str]:
    """An API token of each role, over the two trees of tests/api/conftest.py."""
    # No rate limit in the way: the run sends a few hundred requests within seconds, and a 429
    # that depends on the clock would make one run differ from the next.
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "token": "100000/min"}
    users = {"manager": manager, "supervisor": supervisor, "vendor": vendor_user, "viewer": viewer}
    return {
        role: f"Token {token_create(user=u, name='schemathesis')[1]}" for role, u in users.items()
    }


@functools.cache
def app_schema() -> BaseSchema:
    """The schema the app serves at /api/schema/, called in-process (WSGI). Built when the test
    runs, not when it is collected (a quick run deselects it)."""
    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = WSGIHandler()
    return loaded


def failures_of(token: str) -> list[str]:
    """Every operation with valid and invalid inputs (MAX_EXAMPLES each, derandomized: the same
    requests each run, in the schema's order); the first failure of each operation."""
    found = []
    for result in app_schema().get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is shown
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Case) -> None:
            case.call_and_validate(headers={"Authorization": token}, checks=CHECKS)

        try:
            call()
        except (AssertionError, FailureGroup) as exc:  # a check failed (the rest propagates)
            found.append(f"{operation.label}: {exc}")
    return found


@pytest.mark.parametrize("role", ["manager", "supervisor", "vendor", "viewer"])
def test_it_answers_as_its_schema_says(role, tokens, _wsgi_in_the_test_transaction):
    failures = failures_of(tokens[role])
    assert failures == [], "\n\n".join(failures)
