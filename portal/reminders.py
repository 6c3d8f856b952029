"""Reminders run by Celery beat (see CELERY_BEAT_SCHEDULE): due tomorrow, overdue, and the
managers' daily digest of months awaiting approval.

Each message is *recorded before it is sent*: a ReminderLog row with the unique key
kind:engagement:month-or-day:recipient is inserted (with the in-app Notification) in its own
transaction, and only then is the e-mail sent. A rerun — beat restarted, a task redelivered to
another worker, two beats by mistake — finds the key taken and sends nothing. The price is
at-most-once: a crash between the record and the e-mail loses that one e-mail (the in-app notice
is kept and the log row has no `sent_at`), which is better than mailing people twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from engagements.models import (
    Engagement,
    Notification,
    ReminderLog,
    Role,
    Submission,
    SubmissionStatus,
    User,
)
from kpi_planner.months import current_month, month_add
from kpitree.models import Node, RollupRule
from portal import notifications
from portal.queries import DONE, due_date, month_statuses, status_of

log = logging.getLogger(__name__)

# Overdue notices are sent on the day after the due day; if beat was down that day, they still go
# out on the next day (the key keeps it to one).
OVERDUE_CATCH_UP_DAYS = 2


def _key(kind: str, engagement: Engagement | None, period: dt.date, recipient: User) -> str:
    return f"{kind}:{engagement.pk if engagement else 0}:{period.isoformat()}:{recipient.pk}"


def _record(
    key: str,
    kind: str,
    engagement: Engagement | None,
    period: dt.date,
    recipient: User,
    extra: dict,
) -> Notification | None:
    try:
        with transaction.atomic():
            ReminderLog.objects.create(
                key=key, kind=kind, engagement=engagement, period=period, recipient=recipient
            )
            return notifications.create(
                recipient=recipient,
                kind=kind,
                engagement=engagement,
                period=period if kind != "digest" else None,
                extra=extra,
            )
    except IntegrityError:
        return None  # already recorded by an earlier run


def deliver_once(
    kind: str, engagement: Engagement | None, period: dt.date, recipient: User, extra: dict
) -> bool:
    """Record, then send: one message per (kind, engagement, month or day, recipient), whatever
    the number of runs. False when an earlier run already recorded this message."""
    key = _key(kind, engagement, period, recipient)
    note = _record(key, kind, engagement, period, recipient, extra)
    if note is None:
        return False
    if note.in_digest:  # its e-mail is the recipient's daily digest (notifications.send_digests)
        return True
    try:
        notifications.send_email(note.pk)
        ReminderLog.objects.filter(key=key).update(sent_at=timezone.now())
    except Exception as exc:  # a mail server failure must not stop the other reminders
        log.exception("reminder e-mail %s failed", key)
        ReminderLog.objects.filter(key=key).update(error=str(exc)[:2000])
    return True


def send_due_reminders(*, today: dt.date | None = None) -> dict[str, int]:
    """The day before a month's due day: a reminder to the vendor's users. On the due day: the
    managers' monthly review reminder with the month's report attached. From the day after:
    an overdue notice to the vendor's users and to the engagement's manager. Only for months not yet submitted
    or approved. Returns how many messages were sent now."""
    today = today or timezone.localdate()
    candidates: list[tuple[str, Engagement, dt.date, dt.date]] = []
    soon = today + dt.timedelta(days=1)
    late_days = [today - dt.timedelta(days=lag) for lag in range(1, OVERDUE_CATCH_UP_DAYS + 1)]
    this_month = current_month(today)
    # The months concerned are at most two months back (catch-up) and at most this month.
    engagements = list(
        Engagement.objects.filter(
            start_month__lte=this_month, end_month__gte=month_add(this_month, -2)
        ).select_related("vendor", "manager")
    )
    for engagement in engagements:
        schedule = [("due_soon", soon), ("monthly_report", today)]
        for kind, day in schedule + [("overdue", d) for d in late_days]:
            if day.day != engagement.actuals_due_day:
                continue
            period = month_add(current_month(day), -1)
            if engagement.start_month <= period <= engagement.end_month:
                candidates.append((kind, engagement, period, due_date(engagement, period)))
    # An engagement with no KPI to enter (none assigned yet) has nothing to report.
    reporting = set(
        Node.objects.filter(
            engagement_id__in={c[1].pk for c in candidates}, rollup=RollupRule.INPUT
        ).values_list("engagement_id", flat=True)
    )
    candidates = [c for c in candidates if c[1].pk in reporting]
    if not candidates:
        return {"due_soon": 0, "overdue": 0, "monthly_report": 0}
    statuses = month_statuses([c[1] for c in candidates])
    # vendor id → its active vendor users (the filter leaves out users of no vendor)
    vendor_users: dict[int | None, list[User]] = defaultdict(list)
    for user in User.objects.filter(
        role=Role.VENDOR, is_active=True, vendor_id__in={c[1].vendor_id for c in candidates}
    ):
        vendor_users[user.vendor_id].append(user)
    sent = {"due_soon": 0, "overdue": 0, "monthly_report": 0}
    for kind, engagement, period, due in candidates:
        if kind == "monthly_report":
            # The managers' monthly review reminder goes out whatever the month's status.
            for recipient in notifications.managers_of(engagement):
                sent[kind] += deliver_once(kind, engagement, period, recipient, {"due": due})
            continue
        if status_of(statuses, engagement, period) in DONE:
            continue
        recipients = list(vendor_users[engagement.vendor_id])
        if kind == "overdue":
            recipients += notifications.managers_of(engagement)
        for recipient in {r.pk: r for r in recipients}.values():
            sent[kind] += deliver_once(kind, engagement, period, recipient, {"due": due})
    return sent


def send_approval_digests(*, today: dt.date | None = None) -> int:
    """Once a day, each manager gets one list of the months awaiting their approval (those of
    the engagements they are in charge of, and of engagements with no manager in charge)."""
    today = today or timezone.localdate()
    waiting = list(
        Submission.objects.filter(status=SubmissionStatus.SUBMITTED)
        .select_related("engagement__manager", "submitted_by")
        .order_by("period", "engagement__code")
    )
    if not waiting:
        return 0
    managers = list(
        User.objects.filter(is_active=True).filter(Q(role=Role.MANAGER) | Q(is_superuser=True))
    )
    per_manager: dict[int, list[dict]] = defaultdict(list)
    for sub in waiting:
        in_charge = sub.engagement.manager
        if in_charge is not None and in_charge.effective_role != Role.MANAGER:
            in_charge = None  # only a real manager is in charge (see notifications.managers_of)
        targets = [in_charge] if in_charge and in_charge.is_active else managers
        for manager in targets:
            per_manager[manager.pk].append(
                {
                    "engagement": sub.engagement.name,
                    "month": sub.period,
                    "user": sub.submitted_by.display_name if sub.submitted_by else "—",
                }
            )
    by_pk = {m.pk: m for m in managers}
    by_pk.update(
        {
            s.engagement.manager.pk: s.engagement.manager
            for s in waiting
            if s.engagement.manager and s.engagement.manager.effective_role == Role.MANAGER
        }
    )
    sent = 0
    for pk, items in per_manager.items():
        sent += deliver_once(
            "digest", None, today, by_pk[pk], {"count": len(items), "items": items}
        )
    return sent
