"""The monthly submission workflow: submit, approve (locks), return with a reason, reopen
(audited); the status of the month's actuals; notices in the recipient's language."""

from __future__ import annotations

import pytest

from engagements.models import Notification, Submission, SubmissionEvent
from kpitree.models import Actual
from kpitree.services import RecordError, actuals_record
from portal import services
from portal.services import WorkflowError
from tests.portal.helpers import OCT, month_rows


@pytest.fixture
def entered(plan, vendor_user):
    actuals_record(user=vendor_user, rows=month_rows(), channel="web")
    return plan["calls"].engagement


def steps(engagement) -> list[tuple[str, str, str]]:
    return list(
        SubmissionEvent.objects.filter(engagement=engagement)
        .order_by("id")
        .values_list("action", "from_status", "to_status")
    )


def test_it_walks_a_month_through_return_resubmit_and_approval(entered, vendor_user, manager):
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    services.submission_return(
        user=manager, engagement=entered, period=OCT, reason="架電数の根拠資料を添付してください"
    )
    assert Submission.objects.get(period=OCT).reason == "架電数の根拠資料を添付してください"
    assert set(
        Actual.objects.with_status().filter(period=OCT).values_list("status", flat=True)
    ) == {"returned"}
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    sub = services.submission_approve(user=manager, engagement=entered, period=OCT)
    assert (sub.status, sub.decided_by, sub.reason) == ("approved", manager, "")
    assert steps(entered) == [
        ("submit", "draft", "submitted"),
        ("return", "submitted", "returned"),
        ("submit", "returned", "submitted"),
        ("approve", "submitted", "approved"),
    ]
    assert set(
        Actual.objects.with_status().filter(period=OCT).values_list("status", flat=True)
    ) == {"approved"}


def test_it_locks_an_approved_month_for_every_channel(entered, vendor_user, manager):
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    services.submission_approve(user=manager, engagement=entered, period=OCT)
    for user, channel in ((vendor_user, "web"), (manager, "api"), (manager, "upload")):
        with pytest.raises(RecordError) as exc:
            actuals_record(user=user, rows=month_rows(calls=1), channel=channel)
        assert exc.value.only_locked
    assert Actual.objects.get(node__code="calls", period=OCT).value == 3000


def test_it_reopens_with_an_audited_reason_and_unlocks(entered, vendor_user, manager):
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    services.submission_approve(user=manager, engagement=entered, period=OCT)
    services.submission_reopen(
        user=manager, engagement=entered, period=OCT, reason="先方の集計ミス訂正"
    )
    event = SubmissionEvent.objects.filter(action="reopen").get()
    assert (event.user, event.reason, event.from_status, event.to_status) == (
        manager,
        "先方の集計ミス訂正",
        "approved",
        "draft",
    )
    result = actuals_record(user=vendor_user, rows=month_rows(calls=3050), channel="web")
    assert result.updated == 1


@pytest.mark.parametrize("action", ["approve", "return", "reopen"])
def test_it_lets_only_managers_decide(entered, vendor_user, action):
    with pytest.raises(WorkflowError) as exc:
        services.submission_step(
            action, user=vendor_user, engagement=entered, period=OCT, reason="x"
        )
    assert exc.value.code == "forbidden"
    assert not SubmissionEvent.objects.exists()


def test_it_refuses_another_vendors_submission(entered, other_vendor_user):
    with pytest.raises(WorkflowError) as exc:
        services.submission_submit(user=other_vendor_user, engagement=entered, period=OCT)
    assert exc.value.code == "forbidden"


@pytest.mark.parametrize("reason", ["", "   "])
def test_it_needs_a_reason_to_return(entered, vendor_user, manager, reason):
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    with pytest.raises(WorkflowError) as exc:
        services.submission_return(user=manager, engagement=entered, period=OCT, reason=reason)
    assert (exc.value.code, exc.value.field) == ("invalid", "reason")
    assert Submission.objects.get(period=OCT).status == "submitted"


def test_it_refuses_steps_out_of_order(entered, vendor_user, manager):
    with pytest.raises(WorkflowError) as exc:
        services.submission_approve(user=manager, engagement=entered, period=OCT)
    assert exc.value.code == "conflict"
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    with pytest.raises(WorkflowError) as exc:
        services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    assert exc.value.code == "conflict"
    with pytest.raises(WorkflowError):
        services.submission_reopen(user=manager, engagement=entered, period=OCT, reason="x")
    assert [s[0] for s in steps(entered)] == ["submit"]


def test_it_refuses_to_submit_a_month_that_has_not_begun(plan, vendor_user):
    import datetime as dt

    with pytest.raises(WorkflowError) as exc:
        services.submission_submit(
            user=vendor_user, engagement=plan["calls"].engagement, period=dt.date(2026, 12, 1)
        )
    assert exc.value.code == "invalid"
    assert not Submission.objects.exists()


def test_it_tells_the_vendor_why_a_month_was_returned_in_its_language(
    entered, vendor_user, manager, django_capture_on_commit_callbacks, mailoutbox
):
    vendor_user.email = "tanaka@callnavi.example.jp"
    vendor_user.language = "en"
    vendor_user.save()
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    with django_capture_on_commit_callbacks(execute=True):
        services.submission_return(user=manager, engagement=entered, period=OCT, reason="根拠不足")
    note = Notification.objects.get(recipient=vendor_user, kind="returned")
    assert note.subject == "テレアポ: the October 2026 actuals were returned"
    assert "Reason: 根拠不足" in note.body
    assert note.url == "/portal/engagements/CALL-1/2026-10/"
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["tanaka@callnavi.example.jp"], note.subject)
    ]


def test_it_tells_the_managers_a_month_was_submitted_in_japanese(entered, vendor_user, manager):
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    note = Notification.objects.get(recipient=manager)
    assert note.subject == "テレアポ：2026年10月の実績が提出されました"


def test_it_lists_one_row_per_month(entered, vendor_user):
    services.submission_submit(user=vendor_user, engagement=entered, period=OCT)
    rows = services.submission_rows(entered)
    assert len(rows) == 12
    assert rows[0] == {
        "period": "2026-04",
        "status": "not_started",
        "due_date": "2026-05-10",
        "submitted_at": None,
        "submitted_by": None,
        "decided_at": None,
        "decided_by": None,
        "reason": "",
    }
    assert (rows[6]["period"], rows[6]["status"], rows[6]["submitted_by"]) == (
        "2026-10",
        "submitted",
        "vend",
    )
