"""`GET /healthz` for load balancers and monitoring: is this web process able to serve?

No login, never cached, and it says only "ok" or "unavailable" per dependency: no host names,
no versions, no error text (the error goes to the log). The database decides the status code
(503 when it cannot answer a trivial query); the broker is reported but does not fail the
check, because a write still commits without it and beat's sweeps send what is owed later
(README "Operating in production"), so taking every web process out of rotation for a Redis
outage would do more harm than good.
"""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        log.exception("health check: the database does not answer")
        return UNAVAILABLE
    return OK


def broker_status() -> str:
    from kpi_planner.celery import app

    try:
        with app.connection_for_write() as conn:
            # One attempt, bounded by CELERY_BROKER_CONNECTION_TIMEOUT: no retry loop.
            conn.ensure_connection(max_retries=0)
    except Exception:
        log.exception("health check: the Celery broker does not answer")
        return UNAVAILABLE
    return OK


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    database = database_status()
    body = {
        "status": OK if database == OK else UNAVAILABLE,
        "database": database,
        "broker": broker_status(),
    }
    response = JsonResponse(body, status=200 if database == OK else 503)
    response["Cache-Control"] = "no-store"
    return response
