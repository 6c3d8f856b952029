"""Actuals bulk writes as background jobs: 202 with a Location, `GET /api/v1/jobs/{id}/` gives the
counts or every problem, the job runs the same service (all or nothing, audited), once, and
only its sender and managers see it. Tasks run eagerly (tests/conftest.py); a job is sent when
the request's transaction commits, so these tests run the on-commit callbacks."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.utils import timezone

from kpitree import services, tasks
from kpitree.models import Actual, ImportJob, ValueAudit
from tests.api.helpers import counts, errors_of, revenue_rows

URL = "/api/v1/actuals/bulk/"


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    """The jobs sent to a worker (recorded, not run). Without on-commit callbacks run, a
    request's job is not sent at all: as if its message had been lost."""
    calls: list[str] = []
    monkeypatch.setattr(tasks.run_import_job, "delay", calls.append)
    return calls


def post_async(api, rows, capture, **extra):
    with capture(execute=True):
        return api.post(URL + "?async=1", rows, **extra)


def test_an_async_write_answers_202_and_the_job_reports_its_counts(
    vendor_api, vendor_user, rev_tree, django_capture_on_commit_callbacks
):
    r = post_async(vendor_api, revenue_rows(), django_capture_on_commit_callbacks)
    assert r.status_code == 202
    job = ImportJob.objects.get()
    assert r["Location"] == f"/api/v1/jobs/{job.pk}/"
    assert r.json()["status"] == "queued"  # as it was when the answer was written
    assert r.json()["rows"] == 3
    body = vendor_api.get(r["Location"]).json()
    assert {k: body[k] for k in ("id", "status", "rows", "created", "updated", "unchanged")} == {
        "id": str(job.pk),
        "status": "done",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    assert (body["errors"], body["error_status"]) == ([], None)
    assert body["started_at"] and body["finished_at"]
    # The same service: the values, their audit with the sender and the API channel.
    assert Actual.objects.count() == 3
    assert set(ValueAudit.objects.values_list("user__username", "channel")) == {("vend", "api")}
    assert ImportJob.objects.get().payload_json == ""  # the rows are not kept once it has run


def test_prefer_respond_async_and_the_row_threshold_make_a_job(mgr_api, rev_tree, settings, sent):
    r = mgr_api.post(URL, revenue_rows(), HTTP_PREFER="respond-async")
    assert r.status_code == 202
    assert r["Preference-Applied"] == "respond-async"
    settings.API_ASYNC_ROWS = 2
    assert mgr_api.post(URL, revenue_rows()).status_code == 202  # 3 rows > 2
    assert mgr_api.post(URL + "?async=0", revenue_rows()).status_code == 200
    assert ImportJob.objects.count() == 2


def test_a_small_payload_stays_synchronous(mgr_api, rev_tree, sent):
    r = mgr_api.post(URL, revenue_rows())
    assert r.status_code == 200
    assert r.json() == {"created": 3, "updated": 0, "unchanged": 0}
    assert not r.has_header("Location")
    assert ImportJob.objects.count() == 0


def test_a_failing_job_reports_every_problem_as_the_synchronous_400_and_writes_nothing(
    mgr_api, rev_tree, django_capture_on_commit_callbacks
):
    rows = revenue_rows()
    rows[1]["node"] = "nope"
    rows[2]["value"] = "many"
    synchronous = mgr_api.post(URL, rows, HTTP_ACCEPT_LANGUAGE="en")
    assert synchronous.status_code == 400
    r = post_async(mgr_api, rows, django_capture_on_commit_callbacks, HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 202
    body = mgr_api.get(r["Location"]).json()
    assert body["status"] == "failed"
    assert body["error_status"] == 400
    assert body["errors"] == synchronous.json()["errors"]  # the same problems, in English
    assert errors_of(synchronous) == [{"index": 1, "field": "node"}, {"index": 2, "field": "value"}]
    assert (body["created"], body["updated"], body["unchanged"]) == (None, None, None)
    assert counts(Actual, ValueAudit) == {"Actual": 0, "ValueAudit": 0}


def test_a_job_s_only_conflict_reports_409(
    mgr_api, manager, rev_tree, engagement_a, django_capture_on_commit_callbacks
):
    from engagements.models import Submission

    Submission.objects.create(
        engagement=engagement_a, period=dt.date(2026, 4, 1), status="approved"
    )
    r = post_async(mgr_api, revenue_rows(), django_capture_on_commit_callbacks)
    body = mgr_api.get(r["Location"]).json()
    assert (body["status"], body["error_status"]) == ("failed", 409)
    assert {e["field"] for e in body["errors"]} == {"period"}


def test_only_the_sender_and_managers_see_a_job(
    vendor_api, other_vendor_api, sv_api, mgr_api, rev_tree, sent
):
    r = vendor_api.post(URL + "?async=1", revenue_rows())
    location = r["Location"]
    assert vendor_api.get(location).status_code == 200
    assert mgr_api.get(location).status_code == 200
    for api in (other_vendor_api, sv_api):
        hidden = api.get(location)
        assert hidden.status_code == 404
        assert errors_of(hidden) == [{"field": None}]
    assert mgr_api.get(f"/api/v1/jobs/{uuid.uuid4()}/").status_code == 404
    malformed = mgr_api.get("/api/v1/jobs/not-a-uuid/")
    assert malformed.status_code == 404
    assert malformed["Content-Type"] == "application/json"


def test_a_role_that_cannot_enter_actuals_is_refused_at_once(viewer_api, rev_tree, sent):
    r = viewer_api.post(URL + "?async=1", revenue_rows())
    assert r.status_code == 403
    assert errors_of(r) == [{"field": None, "index": 0}]
    assert ImportJob.objects.count() == 0
    assert sent == []


@pytest.mark.parametrize("body", [[], {"tree": "rev"}, [1, 2]])
def test_a_body_that_is_not_a_list_of_rows_is_refused_at_once(mgr_api, rev_tree, sent, body):
    r = mgr_api.post(URL + "?async=1", body)
    assert r.status_code == 400
    assert ImportJob.objects.count() == 0


def test_a_job_runs_once_however_often_it_is_delivered(mgr_api, rev_tree, sent):
    mgr_api.post(URL + "?async=1", revenue_rows())
    job_id = str(ImportJob.objects.get().pk)
    assert services.import_job_run(job_id=job_id) == "done"
    assert services.import_job_run(job_id=job_id) == "skipped"
    assert ValueAudit.objects.count() == 3
    assert ImportJob.objects.get().created == 3


def test_a_running_job_is_not_claimed_again_until_its_claim_is_stale(mgr_api, rev_tree, sent):
    mgr_api.post(URL + "?async=1", revenue_rows())
    job_id = str(ImportJob.objects.get().pk)
    started = timezone.now()
    ImportJob.objects.filter(pk=job_id).update(status="running", started_at=started)
    assert services.import_job_run(job_id=job_id) == "skipped"  # another worker has it
    assert Actual.objects.count() == 0
    with time_machine.travel(started + dt.timedelta(minutes=12), tick=False):
        assert services.import_job_run(job_id=job_id) == "done"  # its worker died: taken over
    assert Actual.objects.count() == 3


def test_the_resend_sweep_run_twice_runs_the_job_once(mgr_api, rev_tree, sent):
    mgr_api.post(URL + "?async=1", revenue_rows())  # not sent: its message is lost
    job_id = str(ImportJob.objects.get().pk)
    assert sent == []
    later = timezone.now() + dt.timedelta(minutes=3)
    with time_machine.travel(later, tick=False):
        assert tasks.resend_import_jobs() == [job_id]
        assert tasks.resend_import_jobs() == []  # just sent: nothing new
    assert sent == [job_id]
    assert services.import_job_run(job_id=job_id) == "done"
    assert services.import_job_run(job_id=job_id) == "skipped"
    with time_machine.travel(later + dt.timedelta(minutes=3), tick=False):
        assert tasks.resend_import_jobs() == []  # done: never again
    assert ValueAudit.objects.count() == 3


def test_a_nul_character_in_a_job_s_row_is_reported_like_the_synchronous_call(
    mgr_api, rev_tree, django_capture_on_commit_callbacks
):
    rows = revenue_rows()
    rows[0]["comment"] = "a\x00b"
    r = post_async(mgr_api, rows, django_capture_on_commit_callbacks)
    body = mgr_api.get(r["Location"]).json()
    assert (body["status"], body["error_status"]) == ("failed", 400)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, "comment")]
    assert counts(Actual, ValueAudit) == {"Actual": 0, "ValueAudit": 0}
