"""`GET /healthz` for load balancers: no login, never cached, no secret in the answer; the
database decides the status code, the broker is reported."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client

from kpi_planner import health

SECRET = "s3cret-db-password"


def test_it_answers_ok_without_a_login(client: Client, db) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_it_answers_503_when_the_database_does_not_answer(
    client: Client, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args, **kwargs):
        raise OperationalError(f'connection to server failed: password "{SECRET}" refused')

    with monkeypatch.context() as patched:  # undone before the test database is torn down
        patched.setattr(health.connection, "cursor", refuse)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable", "broker": "ok"}
    assert SECRET not in response.content.decode()
    assert response["Cache-Control"] == "no-store"


def test_a_broker_outage_is_reported_but_keeps_the_web_process_in_rotation(
    client: Client, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "broker_status", lambda: health.UNAVAILABLE)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "unavailable"}


def test_the_broker_check_reports_a_refused_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from kpi_planner.celery import app

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError(f"redis://:{SECRET}@10.0.0.5:6379/0 refused")

    monkeypatch.setattr(app, "connection_for_write", refuse)
    assert health.broker_status() == "unavailable"


def test_it_accepts_only_get_and_head(client: Client, db) -> None:
    assert client.post("/healthz").status_code == 405
    assert client.head("/healthz").status_code == 200
