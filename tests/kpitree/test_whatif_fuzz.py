"""The what-if, sensitivity and goal-seek API against its own OpenAPI schema (schemathesis, as
tests/api/test_schemathesis.py does for every endpoint), with many more inputs on the worked
funnel: never a 5xx, only documented statuses, bodies as documented."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from engagements.services import token_create
from tests.kpitree.test_whatif_support import URLS, funnel_tree

pytestmark = [pytest.mark.slow, pytest.mark.urls(URLS)]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OPERATIONS = ("/what-if/", "/sensitivity/", "/goal-seek/")
MAX_EXAMPLES = 100


@pytest.fixture
def _wsgi_in_the_test_transaction():
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("role", ["manager", "vendor"])
def test_it_answers_as_its_schema_says(
    role, manager, vendor_user, engagement_a, settings, _wsgi_in_the_test_transaction
) -> None:
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "token": "100000/min"}
    funnel_tree(engagement_a)
    user = manager if role == "manager" else vendor_user
    token = f"Token {token_create(user=user, name='fuzz')[1]}"
    schema = schemathesis.openapi.from_dict(
        SchemaGenerator(urlconf=URLS).get_schema(request=None, public=True)
    )
    schema.app = WSGIHandler()
    found, called = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.endswith(OPERATIONS):
            continue
        called.append(operation.label)
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case) -> None:
            # Mostly the funnel's tree, so that the bodies reach the computation.
            if case.path_parameters and case.path_parameters.get("tree_code", "")[:1] != "F":
                case.path_parameters["tree_code"] = "FY2026"
            case.call_and_validate(headers={"Authorization": token}, checks=CHECKS)

        try:
            call()
        except (AssertionError, FailureGroup) as exc:
            found.append(f"{operation.label}: {exc}")
    assert len(called) == 3
    assert found == [], "\n\n".join(found)
