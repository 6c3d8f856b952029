"""The submission workflow of a month: submit, withdraw, approve, return, reopen.

Each step locks the month's Submission, checks who may take it and from which status, writes the
new status and a SubmissionEvent, and notifies the people involved. `after_write` is the automatic
step: a month whose actuals were written becomes a draft.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from engagements.models import (
    Engagement,
    Submission,
    SubmissionAction,
    SubmissionEvent,
    SubmissionStatus,
    User,
)
from kpi_planner.access import can_manage, can_report
from kpi_planner.months import current_month, last_reportable_month, month_add
from kpitree.models import Actual
from kpitree.services import has_nul, nul_message
from portal import events, notifications
from portal.queries import missing_inputs
from portal.services.errors import WorkflowError
from portal.services.proposals import proposal_feed

MAX_REASON = 2000


def after_write(*, engagement_id: int, periods: Iterable[dt.date]) -> None:
    """After actuals of the engagement were written for `periods` (whatever the channel: portal,
    upload, API, admin; see portal.receivers): a month with no Submission, or one not started,
    becomes a draft. (An actual's status is derived from its month, see
    kpitree.models.ActualQuerySet.with_status.)"""
    periods = set(periods)
    existing = dict(
        Submission.objects.filter(engagement_id=engagement_id, period__in=periods).values_list(
            "period", "status"
        )
    )
    for period in periods - set(existing):
        Submission.objects.get_or_create(
            engagement_id=engagement_id, period=period, defaults={"status": SubmissionStatus.DRAFT}
        )
    started = [p for p in periods if existing.get(p) == SubmissionStatus.NOT_STARTED]
    if started:
        Submission.objects.filter(engagement_id=engagement_id, period__in=started).update(
            status=SubmissionStatus.DRAFT
        )


# -- the submission workflow -------------------------------------------------------------------------


def _lock_month(engagement: Engagement, period: dt.date) -> tuple[Submission, str]:
    """The month's Submission, locked for this transaction, and its effective status."""
    if not (engagement.start_month <= period <= engagement.end_month):
        raise WorkflowError(_("This is not a month of the engagement."), field="period")
    sub, _created = Submission.objects.get_or_create(
        engagement=engagement, period=period, defaults={"status": SubmissionStatus.NOT_STARTED}
    )
    sub = Submission.objects.select_for_update().get(pk=sub.pk)
    status = sub.status
    if (
        status == SubmissionStatus.NOT_STARTED
        and Actual.objects.filter(node__engagement=engagement, period=period).exists()
    ):
        status = SubmissionStatus.DRAFT
    return sub, status


def _step(
    sub: Submission, old: str, new: str, action: str, user: User, reason: str = ""
) -> Submission:
    now = timezone.now()
    sub.status = new
    sub.reason = reason
    if action == SubmissionAction.SUBMIT:
        sub.submitted_at, sub.submitted_by = now, user
        sub.decided_at, sub.decided_by = None, None
    elif action == SubmissionAction.WITHDRAW:  # the vendor takes it back: nobody decided
        sub.decided_at, sub.decided_by = None, None
    else:
        sub.decided_at, sub.decided_by = now, user
    sub.save()
    SubmissionEvent.objects.create(
        engagement_id=sub.engagement_id,
        period=sub.period,
        action=action,
        from_status=old,
        to_status=new,
        reason=reason,
        user=user,
        at=now,
    )
    if SubmissionStatus.APPROVED in (old, new):
        engagement_id, period = sub.engagement_id, sub.period
        transaction.on_commit(
            lambda: events.month_lock_changed.send(
                sender=Submission,
                engagement_id=engagement_id,
                period=period,
                approved=new == SubmissionStatus.APPROVED,
                user=user,
            )
        )
    return sub


def _clean_reason(reason: object) -> str:
    # The API passes the JSON value as sent: a list or a number is not a reason.
    if reason is not None and not isinstance(reason, str):
        raise WorkflowError(_("Write the reason as text."), field="reason")
    if has_nul(reason):
        raise WorkflowError(nul_message(), field="reason")
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(_("Give a reason."), field="reason")
    if len(reason) > MAX_REASON:
        raise WorkflowError(_("Keep the reason under 2,000 characters."), field="reason")
    return reason


@transaction.atomic
def submission_submit(*, user: User, engagement: Engagement, period: dt.date) -> Submission:
    """Vendor (or manager) hands in a complete month for approval."""
    if not can_report(user, engagement):
        raise WorkflowError(_("You may not submit this engagement's actuals."), "forbidden")
    sub, status = _lock_month(engagement, period)
    if period > current_month():
        raise WorkflowError(_("This month has not begun yet."), field="period")
    if period > last_reportable_month():
        raise WorkflowError(
            _("This month has not ended yet; its actuals can be submitted from %(day)s.")
            % {"day": formats.date_format(month_add(period, 1), "DATE_FORMAT")},
            field="period",
        )
    if status == SubmissionStatus.SUBMITTED:
        raise WorkflowError(_("This month is already submitted."), "conflict")
    if status == SubmissionStatus.APPROVED:
        raise WorkflowError(_("This month is approved and locked."), "conflict")
    proposal_feed(user=user, engagement=engagement, period=period)
    missing = missing_inputs(user, engagement, period)
    if missing:
        raise WorkflowError(
            _("Enter every KPI before submitting; missing: %(names)s.")
            % {"names": "、".join(n.name for n in missing)}
        )
    sub = _step(sub, status, SubmissionStatus.SUBMITTED, SubmissionAction.SUBMIT, user)
    notifications.notify(
        recipients=notifications.managers_of(engagement),
        kind="submitted",
        engagement=engagement,
        period=period,
        extra={"user": user.display_name},
    )
    return sub


@transaction.atomic
def submission_approve(*, user: User, engagement: Engagement, period: dt.date) -> Submission:
    """Manager approves a submitted month: from now on every write to it is refused."""
    if not can_manage(user):
        raise WorkflowError(_("Only managers approve months."), "forbidden")
    sub, status = _lock_month(engagement, period)
    if status != SubmissionStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted month can be approved."), "conflict")
    sub = _step(sub, status, SubmissionStatus.APPROVED, SubmissionAction.APPROVE, user)
    notifications.notify(
        recipients=notifications.vendor_users(engagement),
        kind="approved",
        engagement=engagement,
        period=period,
    )
    return sub


@transaction.atomic
def submission_return(
    *, user: User, engagement: Engagement, period: dt.date, reason: str
) -> Submission:
    """Manager sends a submitted month back to the vendor with the reason."""
    if not can_manage(user):
        raise WorkflowError(_("Only managers return months."), "forbidden")
    reason = _clean_reason(reason)
    sub, status = _lock_month(engagement, period)
    if status != SubmissionStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted month can be returned."), "conflict")
    sub = _step(sub, status, SubmissionStatus.RETURNED, SubmissionAction.RETURN, user, reason)
    notifications.notify(
        recipients=notifications.vendor_users(engagement),
        kind="returned",
        engagement=engagement,
        period=period,
        extra={"reason": reason},
    )
    return sub


@transaction.atomic
def submission_reopen(
    *, user: User, engagement: Engagement, period: dt.date, reason: str
) -> Submission:
    """Manager unlocks an approved month (audited with the reason); it becomes a draft again."""
    if not can_manage(user):
        raise WorkflowError(_("Only managers reopen months."), "forbidden")
    reason = _clean_reason(reason)
    sub, status = _lock_month(engagement, period)
    if status != SubmissionStatus.APPROVED:
        raise WorkflowError(_("Only an approved month can be reopened."), "conflict")
    sub = _step(sub, status, SubmissionStatus.DRAFT, SubmissionAction.REOPEN, user, reason)
    # Proposal changes made while the month was locked were not written: catch up now.
    proposal_feed(user=user, engagement=engagement, period=period)
    notifications.notify(
        recipients=notifications.vendor_users(engagement),
        kind="reopened",
        engagement=engagement,
        period=period,
        extra={"reason": reason},
    )
    return sub


@transaction.atomic
def submission_withdraw(*, user: User, engagement: Engagement, period: dt.date) -> Submission:
    """The vendor takes back a submitted month to correct it (a submitted month is locked for
    the vendor): it becomes a draft again and the managers are told."""
    if not can_report(user, engagement):
        raise WorkflowError(_("You may not withdraw this engagement's submission."), "forbidden")
    sub, status = _lock_month(engagement, period)
    if status != SubmissionStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted month can be withdrawn."), "conflict")
    sub = _step(sub, status, SubmissionStatus.DRAFT, SubmissionAction.WITHDRAW, user)
    notifications.notify(
        recipients=notifications.managers_of(engagement),
        kind="withdrawn",
        engagement=engagement,
        period=period,
        extra={"user": user.display_name},
    )
    return sub


def submission_step(
    action: str, *, user: User, engagement: Engagement, period: dt.date, reason: str = ""
) -> Submission:
    """Dispatch a workflow action by name (submit, withdraw, approve, return, reopen)."""
    if action == "submit":
        return submission_submit(user=user, engagement=engagement, period=period)
    if action == "withdraw":
        return submission_withdraw(user=user, engagement=engagement, period=period)
    if action == "approve":
        return submission_approve(user=user, engagement=engagement, period=period)
    if action == "return":
        return submission_return(user=user, engagement=engagement, period=period, reason=reason)
    if action == "reopen":
        return submission_reopen(user=user, engagement=engagement, period=period, reason=reason)
    raise WorkflowError(_("Unknown action."), field="action")
