"""engagements/{code}/submissions/ in the REST API: one row per month; submit, approve, return,
reopen; 403 for a step the caller may not take, 404 for another vendor's engagement, 409 for a
step out of order and for any write to an approved month."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from engagements.models import Submission, SubmissionEvent
from engagements.services import token_create
from kpitree.models import Actual
from kpitree.services import actuals_record
from tests.portal.helpers import month_rows

BASE = "/api/v1/engagements/CALL-1/submissions/"


def api(user) -> APIClient:
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user)[1]}")
    return client


@pytest.fixture
def entered(plan, vendor_user):
    actuals_record(user=vendor_user, rows=month_rows(), channel="api")
    return plan


def test_it_lists_one_row_per_month(entered, vendor_user):
    body = api(vendor_user).get(BASE).json()
    assert body["next"] is None
    assert [r["period"] for r in body["results"]][:2] == ["2026-04", "2026-05"]
    assert len(body["results"]) == 12
    assert body["results"][6] == {
        "period": "2026-10",
        "status": "draft",  # actuals were written through the API, nothing submitted yet
        "due_date": "2026-11-10",
        "submitted_at": None,
        "submitted_by": None,
        "decided_at": None,
        "decided_by": None,
        "reason": "",
    }


def test_it_runs_the_workflow_through_the_api(entered, vendor_user, manager):
    vendor, mgr = api(vendor_user), api(manager)
    response = vendor.post(BASE + "2026-10/submit/")
    assert (response.status_code, response.json()["status"]) == (200, "submitted")
    response = mgr.post(BASE + "2026-10/return/", {"reason": "CVRの定義を確認してください"})
    assert (response.json()["status"], response.json()["reason"]) == (
        "returned",
        "CVRの定義を確認してください",
    )
    assert vendor.post(BASE + "2026-10/submit/").status_code == 200
    response = mgr.post(BASE + "2026-10/approve/")
    assert (response.json()["status"], response.json()["decided_by"]) == ("approved", "mgr")
    response = mgr.post(BASE + "2026-10/reopen/", {"reason": "再集計"})
    assert (response.json()["status"], response.json()["reason"]) == ("draft", "再集計")
    assert SubmissionEvent.objects.count() == 5


def test_it_refuses_any_write_to_an_approved_month_with_409(entered, vendor_user, manager):
    api(vendor_user).post(BASE + "2026-10/submit/")
    api(manager).post(BASE + "2026-10/approve/")
    rows = month_rows(calls=1)
    for user in (vendor_user, manager):
        response = api(user).post("/api/v1/actuals/bulk/", rows)
        assert response.status_code == 409
    assert Actual.objects.get(node__code="calls").value == 3000


@pytest.mark.parametrize("action", ["approve", "return", "reopen"])
def test_it_answers_403_to_a_vendor_deciding_on_its_own_month(entered, vendor_user, action):
    api(vendor_user).post(BASE + "2026-10/submit/")
    response = api(vendor_user).post(BASE + f"2026-10/{action}/", {"reason": "x"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] is None
    assert Submission.objects.get().status == "submitted"


@pytest.mark.parametrize("action", ["submit", "approve", "return", "reopen"])
def test_it_answers_404_for_another_vendors_engagement(entered, other_vendor_user, action):
    client = api(other_vendor_user)
    assert client.get(BASE).status_code == 404
    assert client.get(BASE + "2026-10/").status_code == 404
    assert client.post(BASE + f"2026-10/{action}/", {"reason": "x"}).status_code == 404
    assert not SubmissionEvent.objects.exists()


def test_it_answers_409_for_a_step_out_of_order_and_400_without_a_reason(
    entered, vendor_user, manager
):
    mgr = api(manager)
    assert mgr.post(BASE + "2026-10/approve/").status_code == 409
    api(vendor_user).post(BASE + "2026-10/submit/")
    response = mgr.post(BASE + "2026-10/return/", {})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"


def test_it_answers_400_for_an_incomplete_month(plan, vendor_user):
    actuals_record(user=vendor_user, rows=month_rows()[:1], channel="api")
    response = api(vendor_user).post(BASE + "2026-10/submit/")
    assert response.status_code == 400
    assert "アポ取得率" in response.json()["errors"][0]["message"]


def test_it_answers_404_for_a_month_outside_the_engagement(entered, manager):
    assert api(manager).post(BASE + "2027-04/submit/").status_code == 404
    assert api(manager).get(BASE + "2026-00/").status_code == 404


def test_it_answers_403_to_a_supervisor(entered, supervisor):
    assert api(supervisor).get(BASE).status_code == 200
    assert api(supervisor).post(BASE + "2026-10/submit/").status_code == 403


def test_it_describes_the_endpoints_in_the_openapi_schema(client, manager):
    client.force_login(manager)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/engagements/{engagement_code}/submissions/" in paths
    for action in ("submit", "approve", "return", "reopen"):
        assert f"/api/v1/engagements/{{engagement_code}}/submissions/{{period}}/{action}/" in paths
