"""Idempotency-Key on API writes: a retry gets the first answer again and writes nothing more.

(The 409 of a duplicate that arrives while the first request is still running needs two
PostgreSQL sessions: tests/integration/test_idempotency_concurrency.py.)"""

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from kpi_planner import idempotency
from kpi_planner.models import IdempotencyRecord
from kpi_planner.tasks import purge_idempotency_records
from kpitree import services
from kpitree.models import Actual, ValueAudit
from tests.api.conftest import client_for
from tests.api.helpers import counts, errors_of, revenue_rows

URL = "/api/v1/actuals/bulk/"
KEY = "3f0c1a52-retry-me"


def post(api, rows, key: str | None = KEY, url: str = URL):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post(url, rows, **headers)


def written() -> dict[str, int]:
    return counts(Actual, ValueAudit)


def test_a_retry_gets_the_stored_answer_and_writes_once(mgr_api, rev_tree):
    first = post(mgr_api, revenue_rows())
    assert (first.status_code, first.json()) == (200, {"created": 3, "updated": 0, "unchanged": 0})
    assert "Idempotent-Replayed" not in first
    assert written() == {"Actual": 3, "ValueAudit": 3}

    again = post(mgr_api, revenue_rows())
    # The first answer (created 3), not the answer of a second run (unchanged 3).
    assert (again.status_code, again.json()) == (200, {"created": 3, "updated": 0, "unchanged": 0})
    assert again.content == first.content
    assert again["Content-Type"] == "application/json"
    assert again["Idempotent-Replayed"] == "true"
    assert written() == {"Actual": 3, "ValueAudit": 3}
    [record] = IdempotencyRecord.objects.all()
    assert (record.key, record.method, record.path, record.status) == (KEY, "POST", URL, 200)


def test_a_changed_value_sent_again_with_the_same_key_is_not_written(mgr_api, rev_tree):
    post(mgr_api, revenue_rows())
    response = post(mgr_api, revenue_rows(visits=1))
    assert (response.status_code, errors_of(response)) == (422, [{"field": "Idempotency-Key"}])
    assert "Idempotent-Replayed" not in response
    assert written() == {"Actual": 3, "ValueAudit": 3}
    assert Actual.objects.get(node__code="visits").value == 50000


def test_a_first_request_with_the_key_of_another_request_runs_nothing(mgr_api, rev_tree):
    post(mgr_api, revenue_rows())
    other_path = mgr_api.put(
        "/api/v1/trees/rev/targets/",
        [{"node": "visits", "period": "2026-04", "value": 60000}],
        HTTP_IDEMPOTENCY_KEY=KEY,
    )
    assert (other_path.status_code, errors_of(other_path)) == (422, [{"field": "Idempotency-Key"}])
    assert counts(ValueAudit) == {"ValueAudit": 3}
    assert rev_tree.nodes.get(code="visits").targets.count() == 0


def test_users_with_the_same_key_are_independent(mgr_api, vendor_api, manager, rev_tree):
    rows = revenue_rows()
    assert post(vendor_api, rows).json() == {"created": 3, "updated": 0, "unchanged": 0}
    # The manager's first request with the same key runs (and finds the values unchanged).
    response = post(mgr_api, rows)
    assert (response.json(), "Idempotent-Replayed" in response) == (
        {"created": 0, "updated": 0, "unchanged": 3},
        False,
    )
    # A different body is no conflict either: the key is the manager's own.
    assert post(vendor_api, revenue_rows(visits=7)).status_code == 422
    assert IdempotencyRecord.objects.count() == 2
    assert written() == {"Actual": 3, "ValueAudit": 3}


def test_without_the_header_nothing_changes(mgr_api, rev_tree):
    assert post(mgr_api, revenue_rows(), key=None).json() == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    second = post(mgr_api, revenue_rows(), key=None)
    assert second.json() == {"created": 0, "updated": 0, "unchanged": 3}
    assert "Idempotent-Replayed" not in second
    assert IdempotencyRecord.objects.count() == 0


def test_a_refusal_is_stored_and_replayed(mgr_api, rev_tree):
    bad = [{"tree": "rev", "node": "nope", "period": "2026-04", "value": 1}]
    first = post(mgr_api, bad)
    assert (first.status_code, errors_of(first)) == (400, [{"field": "node", "index": 0}])
    again = post(mgr_api, bad)
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (
        400,
        first.json(),
        "true",
    )
    assert written() == {"Actual": 0, "ValueAudit": 0}


def test_a_server_error_is_not_stored_and_its_write_is_rolled_back(manager, rev_tree, monkeypatch):
    api = client_for(manager)
    api.raise_request_exception = False
    record = services.actuals_record

    def record_then_fail(**kwargs):
        record(**kwargs)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services, "actuals_record", record_then_fail)
    assert post(api, revenue_rows()).status_code == 500
    assert written() == {"Actual": 0, "ValueAudit": 0}
    assert IdempotencyRecord.objects.get().status is None  # claimed, unanswered

    monkeypatch.setattr(services, "actuals_record", record)
    retry = post(api, revenue_rows())
    assert (retry.status_code, retry.json()) == (200, {"created": 3, "updated": 0, "unchanged": 0})
    assert "Idempotent-Replayed" not in retry
    assert written() == {"Actual": 3, "ValueAudit": 3}


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there"])
def test_a_malformed_key_is_refused_and_nothing_is_written(mgr_api, rev_tree, key):
    response = post(mgr_api, revenue_rows(), key=key)
    assert (response.status_code, errors_of(response)) == (400, [{"field": "Idempotency-Key"}])
    assert written() == {"Actual": 0, "ValueAudit": 0}
    assert IdempotencyRecord.objects.count() == 0


def test_a_key_of_255_characters_is_accepted(mgr_api, rev_tree):
    key = "キ" * 255
    assert post(mgr_api, revenue_rows(), key=key).status_code == 200
    assert post(mgr_api, revenue_rows(), key=key)["Idempotent-Replayed"] == "true"


def test_reads_anonymous_callers_and_token_login_are_not_recorded(
    anon_api, mgr_api, manager, rev_tree
):
    assert mgr_api.get("/api/v1/actuals/", HTTP_IDEMPOTENCY_KEY=KEY).status_code == 200
    anonymous = post(anon_api, revenue_rows())
    assert (anonymous.status_code, errors_of(anonymous)) == (401, [{"field": None}])
    manager.set_password("pw-secret")
    manager.save()
    login = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "mgr", "password": "pw-secret"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=KEY,
    )
    assert login.status_code == 200
    assert IdempotencyRecord.objects.count() == 0
    assert written() == {"Actual": 0, "ValueAudit": 0}


def test_other_write_endpoints_are_covered_too(mgr_api, rev_tree):
    body = {"code": "V-NEW", "name": "新規ベンダー", "contact_email": ""}
    first = mgr_api.post("/api/v1/vendors/", body, HTTP_IDEMPOTENCY_KEY=KEY)
    assert first.status_code == 201
    again = mgr_api.post("/api/v1/vendors/", body, HTTP_IDEMPOTENCY_KEY=KEY)
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (
        201,
        first.json(),
        "true",
    )
    deleted = mgr_api.delete("/api/v1/vendors/V-NEW/", HTTP_IDEMPOTENCY_KEY="delete-1")
    assert deleted.status_code == 204
    replay = mgr_api.delete("/api/v1/vendors/V-NEW/", HTTP_IDEMPOTENCY_KEY="delete-1")
    assert (replay.status_code, replay.content, replay["Idempotent-Replayed"]) == (204, b"", "true")


def test_records_expire_after_24_hours(mgr_api, rev_tree):
    start = timezone.now()
    post(mgr_api, revenue_rows())
    with time_machine.travel(start + dt.timedelta(hours=23, minutes=59)):
        assert idempotency.purge_expired() == 0
        assert post(mgr_api, revenue_rows())["Idempotent-Replayed"] == "true"
    with time_machine.travel(start + dt.timedelta(hours=24, minutes=1)):
        # Expired: the key may be used again, for anything.
        reused = post(mgr_api, revenue_rows(visits=1))
        assert (reused.status_code, reused.json()) == (
            200,
            {"created": 0, "updated": 1, "unchanged": 2},
        )
        assert "Idempotent-Replayed" not in reused
    assert IdempotencyRecord.objects.get().body_hash != ""
    with time_machine.travel(start + dt.timedelta(hours=48, minutes=2)):
        assert purge_idempotency_records.delay().get() == 1
        assert purge_idempotency_records.delay().get() == 0
    assert IdempotencyRecord.objects.count() == 0
    assert written() == {"Actual": 3, "ValueAudit": 4}


def test_the_cleanup_runs_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-idempotency-records"]
    assert entry == {"task": "kpi_planner.purge_idempotency_records", "schedule": 3600.0}


def test_the_stored_body_is_the_json_of_the_answer(mgr_api, rev_tree):
    post(mgr_api, revenue_rows())
    record = IdempotencyRecord.objects.get()
    assert json.loads(bytes(record.response_body)) == {"created": 3, "updated": 0, "unchanged": 0}
    assert record.content_type == "application/json"
