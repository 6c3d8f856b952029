"""Idempotency-Key on real PostgreSQL: a duplicate that arrives while the first request is still
running answers 409 at once (its claim row is locked), and the write happens once."""

from __future__ import annotations

import threading

import pytest
from rest_framework.test import APIClient

from kpi_planner.models import IdempotencyRecord
from kpitree import services
from kpitree.models import Actual, Node, ValueAudit
from tests.api.conftest import client_for
from tests.factories import TreeFactory

KEY = "retry-after-timeout-1"
ROWS = [{"tree": "it-idem", "node": "visits", "period": "2026-04", "value": 500, "comment": ""}]


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_in_flight_answers_409_and_the_write_happens_once(manager, monkeypatch):
    tree = TreeFactory(code="it-idem")
    services.node_save(
        user=manager, node=Node(tree=tree), data={"code": "visits", "name": "訪問数", "unit": "件"}
    )
    entered, release = threading.Event(), threading.Event()
    record = services.actuals_record

    def slow_record(**kwargs):
        entered.set()
        assert release.wait(30)
        return record(**kwargs)

    monkeypatch.setattr(services, "actuals_record", slow_record)
    api = client_for(manager)
    first: dict = {}

    def same_caller() -> APIClient:  # one client per thread, the same token
        client = APIClient()
        client.default_format = "json"
        client.credentials(**api._credentials)
        return client

    def send_first() -> None:
        from django.db import connection

        try:
            first["response"] = same_caller().post(
                "/api/v1/actuals/bulk/", ROWS, HTTP_IDEMPOTENCY_KEY=KEY
            )
        finally:
            connection.close()

    thread = threading.Thread(target=send_first)
    thread.start()
    try:
        assert entered.wait(30)
        duplicate = api.post("/api/v1/actuals/bulk/", ROWS, HTTP_IDEMPOTENCY_KEY=KEY)
        assert duplicate.status_code == 409
        assert [e["field"] for e in duplicate.json()["errors"]] == ["Idempotency-Key"]
        assert duplicate["Retry-After"] == "1"
    finally:
        release.set()
        thread.join(30)
    assert (first["response"].status_code, first["response"].json()) == (
        200,
        {"created": 1, "updated": 0, "unchanged": 0},
    )
    retry = api.post("/api/v1/actuals/bulk/", ROWS, HTTP_IDEMPOTENCY_KEY=KEY)
    assert (retry.status_code, retry.json(), retry["Idempotent-Replayed"]) == (
        200,
        {"created": 1, "updated": 0, "unchanged": 0},
        "true",
    )
    assert (Actual.objects.count(), ValueAudit.objects.count()) == (1, 1)
    assert IdempotencyRecord.objects.get().status == 200
