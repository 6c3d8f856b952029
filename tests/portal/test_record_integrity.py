"""Issue 10: the record a contract rests on. Each test reproduces a problem found by a new user
and shows it is gone: the status code or error, and that nothing was written."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from engagements.models import Notification, Submission, SubmissionEvent
from kpitree.models import Actual, Node, Target, ValueAudit
from kpitree.services import RecordError, actuals_record, targets_record
from portal import services
from portal.services import WorkflowError
from tests.portal.helpers import OCT, add_node, month_rows


@pytest.fixture
def entered(plan, vendor_user):
    actuals_record(user=vendor_user, rows=month_rows(), channel="web")
    return plan["calls"].engagement


@pytest.fixture
def submitted(entered, vendor_user):
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    return entered


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def calls_in_october() -> float:
    return Actual.objects.get(node__code="calls", period=OCT).value


# -- 3. a submitted month is not silently changed by the vendor ----------------------------------


def test_a_vendor_cannot_change_a_submitted_month(submitted, vendor_user):
    with pytest.raises(RecordError) as exc:
        actuals_record(user=vendor_user, rows=month_rows(calls=9999), channel="web")
    assert exc.value.only_locked
    assert exc.value.errors[0]["message"] == (
        "2026-10は提出済みで承認待ちです。変更するには提出を取り下げてください。"
    )
    assert calls_in_october() == 3000
    assert ValueAudit.objects.filter(kind="actual", new_value=9999).count() == 0


def test_the_api_answers_409_for_a_submitted_month(submitted, vendor_user):
    response = api_for(vendor_user).post(
        "/api/v1/actuals/bulk/", month_rows(calls=9999), format="json"
    )
    assert response.status_code == 409
    assert calls_in_october() == 3000


def test_the_vendor_withdraws_corrects_and_the_manager_is_told(submitted, vendor_user, manager):
    services.submission_withdraw(user=vendor_user, engagement=submitted, period=OCT)
    assert Submission.objects.get(engagement=submitted, period=OCT).status == "draft"
    assert SubmissionEvent.objects.filter(action="withdraw", user=vendor_user).count() == 1
    assert Notification.objects.filter(recipient=manager, kind="withdrawn").count() == 1
    actuals_record(user=vendor_user, rows=month_rows(calls=3100), channel="web")
    assert calls_in_october() == 3100


def test_only_a_submitted_month_can_be_withdrawn(entered, vendor_user):
    with pytest.raises(WorkflowError) as exc:
        services.submission_withdraw(user=vendor_user, engagement=entered, period=OCT)
    assert exc.value.code == "conflict"


def test_the_month_page_offers_withdrawal_instead_of_the_grid(client, submitted, vendor_user):
    client.force_login(vendor_user)
    page = client.get("/portal/engagements/CALL-1/2026-10/").content.decode()
    assert 'data-testid="awaiting"' in page
    assert 'name="do" value="save"' not in page
    response = client.post("/portal/engagements/CALL-1/2026-10/action/", {"action": "withdraw"})
    assert response.status_code == 302
    assert Submission.objects.get(engagement=submitted, period=OCT).status == "draft"


# -- 4. the status a client reads is the month's ---------------------------------------------------


def test_an_actual_written_by_the_api_into_a_submitted_month_reads_submitted(submitted, manager):
    api = api_for(manager)
    assert (
        api.post("/api/v1/actuals/bulk/", month_rows(calls=3050), format="json").status_code == 200
    )
    rows = api.get("/api/v1/actuals/?node=calls&period_from=2026-10&period_to=2026-10").json()
    assert [(r["value"], r["status"]) for r in rows["results"]] == [(3050.0, "submitted")]


# -- 5. actuals of months that have not ended ------------------------------------------------------


@pytest.mark.parametrize("period", ["2026-11", "2027-03"])
def test_it_refuses_actuals_of_a_month_that_has_not_ended(plan, vendor_user, period):
    # The portal fixtures freeze the clock on 2026-11-03.
    response = api_for(vendor_user).post(
        "/api/v1/actuals/bulk/", month_rows(period=period), format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "index": 0,
        "field": "period",
        "message": f"{period}はまだ終わっていません。実績は2026-10まで入力できます。",
    }
    assert not Actual.objects.exists()


def test_a_setting_allows_the_current_month_for_weekly_feeds(plan, vendor_user, settings):
    settings.ACTUALS_ALLOW_CURRENT_MONTH = True
    actuals_record(user=vendor_user, rows=month_rows(period="2026-11"), channel="api")
    assert Actual.objects.filter(period=dt.date(2026, 11, 1)).count() == 2


# -- 6. targets of an approved month --------------------------------------------------------------


@pytest.fixture
def approved(submitted, manager):
    services.submission_approve(user=manager, engagement=submitted, period=OCT)
    return submitted


def test_changing_an_approved_months_target_needs_a_reason(approved, plan, manager):
    row = {"node": "calls", "period": "2026-10", "value": 3500}
    with pytest.raises(RecordError) as exc:
        targets_record(user=manager, tree=plan["tree"], rows=[row], channel="api")
    assert exc.value.errors == [
        {
            "index": 0,
            "field": "reason",
            "message": "2026-10は承認済みです。目標を変更する理由を入力してください。",
            "code": "invalid",
        }
    ]
    assert Target.objects.get(node=plan["calls"], period=OCT).value == 3000
    targets_record(
        user=manager,
        tree=plan["tree"],
        rows=[{**row, "reason": "契約変更で架電枠を増枠"}],
        channel="api",
    )
    audit = ValueAudit.objects.filter(kind="target", node=plan["calls"]).order_by("-id").first()
    assert (audit.old_value, audit.new_value, audit.reason) == (
        3000,
        3500,
        "契約変更で架電枠を増枠",
    )


def test_an_unchanged_approved_target_needs_no_reason(approved, plan, manager):
    result = targets_record(
        user=manager,
        tree=plan["tree"],
        rows=[{"node": "calls", "period": "2026-10", "value": 3000}],
        channel="api",
    )
    assert result.unchanged == 1


# -- 8. a returned month asks only for what it contained --------------------------------------------


def test_a_returned_month_resubmits_without_kpis_added_later(
    submitted, plan, vendor_user, manager, frozen_now
):
    services.submission_return(user=manager, engagement=submitted, period=OCT, reason="根拠不足")
    frozen_now.shift(dt.timedelta(hours=1))
    add_node(
        manager,
        plan["tree"],
        "visits",
        name="訪問数",
        parent=plan["orders"].parent,
        engagement=submitted,
    )
    sub = services.submission_submit(user=vendor_user, engagement=submitted, period=OCT)
    assert sub.status == "submitted"
    assert not Actual.objects.filter(node__code="visits").exists()
    assert Node.objects.filter(code="visits").exists()


def test_the_manager_sees_what_changed_since_the_first_submission(
    client, submitted, vendor_user, manager, frozen_now
):
    services.submission_withdraw(user=vendor_user, engagement=submitted, period=OCT)
    frozen_now.shift(dt.timedelta(minutes=5))
    actuals_record(user=vendor_user, rows=month_rows(calls=3100), channel="web")
    services.submission_submit(user=vendor_user, engagement=submitted, period=OCT)
    changes = services.changes_since_submission(submitted, OCT)
    assert [(c["node"].code, c["before"], c["after"]) for c in changes] == [
        ("calls", "3,000件", "3,100件")
    ]
    client.force_login(manager)
    page = client.get("/portal/engagements/CALL-1/2026-10/").content.decode()
    assert 'data-testid="changes-since-submission"' in page
    assert "3,100件" in page


def test_a_withdrawal_is_not_a_decision(submitted, vendor_user):
    sub = services.submission_withdraw(user=vendor_user, engagement=submitted, period=OCT)
    assert (sub.decided_at, sub.decided_by) == (None, None)


def test_a_month_that_has_not_ended_is_read_only_in_the_portal(client, plan, vendor_user):
    client.force_login(vendor_user)  # the clock is frozen on 2026-11-03
    page = client.get("/portal/engagements/CALL-1/2026-11/").content.decode()
    assert 'data-testid="not-ended"' in page
    assert "この月はまだ終わっていません。実績は2026年12月1日から入力できます。" in page
    assert 'name="do" value="save"' not in page


# -- issue 11: every channel turns the month into a draft (kpitree.events → portal) ------------


def test_an_api_write_makes_the_month_a_draft_like_the_portal_does(plan, vendor_user):
    response = api_for(vendor_user).post("/api/v1/actuals/bulk/", month_rows(), format="json")
    assert response.status_code == 200
    submission = Submission.objects.get(engagement=plan["calls"].engagement, period=OCT)
    assert submission.status == "draft"


def test_a_refused_write_leaves_the_month_without_a_draft(plan, vendor_user):
    rows = month_rows()
    rows[0]["value"] = "many"
    response = api_for(vendor_user).post("/api/v1/actuals/bulk/", rows, format="json")
    assert response.status_code == 400
    assert not Submission.objects.filter(engagement=plan["calls"].engagement).exists()
