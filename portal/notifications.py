"""Notices to people: an in-app Notification row and an e-mail, in the recipient's language.

Every notice is first written as a Notification (rendered under `translation.override` of the
recipient's language); its e-mail is sent afterwards by `send_email`, which claims the row
(`emailed_at`) before sending, so a task delivered twice never mails twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from engagements.models import Engagement, Notification, Role, User
from kpi_planner import queueing

log = logging.getLogger(__name__)

# kind → (subject, body); placeholders: engagement, month, due, reason, user, title, count, items,
# kpi, achievement, probability.
MESSAGES: dict[str, tuple[str, str]] = {
    "kpi_red": (
        gettext_noop("%(engagement)s: %(kpi)s is off track (%(month)s)"),
        gettext_noop(
            "%(kpi)s reached %(achievement)s of its target in %(month)s, below the amber "
            "threshold. Look at what moved it and open a corrective action if one is needed."
        ),
    ),
    "action_overdue": (
        gettext_noop("%(engagement)s: open actions past their due date (%(count)s)"),
        gettext_noop(
            "“%(title)s” and the other open actions of %(engagement)s are past their due date. "
            "Close each with its evidence, or give it a new due date."
        ),
    ),
    "kpi_at_risk": (
        gettext_noop("%(engagement)s: %(kpi)s is at risk of missing its target"),
        gettext_noop(
            "The forecast gives %(kpi)s a %(probability)s chance of reaching its target for "
            "the fiscal year. Look at the trend and open a corrective action if one is needed."
        ),
    ),
    "due_soon": (
        gettext_noop("Reminder: the %(month)s actuals of %(engagement)s are due tomorrow"),
        gettext_noop(
            "Please enter and submit the %(month)s actuals of %(engagement)s by %(due)s. "
            "Drafts you saved are kept; submitting sends them to the manager for approval."
        ),
    ),
    "overdue": (
        gettext_noop("Overdue: the %(month)s actuals of %(engagement)s"),
        gettext_noop(
            "The %(month)s actuals of %(engagement)s were due on %(due)s and have not been "
            "submitted yet. Please submit them as soon as possible."
        ),
    ),
    "digest": (
        gettext_noop("%(count)s monthly reports awaiting your approval"),
        gettext_noop("These monthly reports were submitted and await your approval:\n%(items)s"),
    ),
    "submitted": (
        gettext_noop("%(engagement)s: the %(month)s actuals were submitted"),
        gettext_noop(
            "%(user)s submitted the %(month)s actuals of %(engagement)s. Please approve or return them."
        ),
    ),
    "withdrawn": (
        gettext_noop("%(engagement)s: the %(month)s submission was withdrawn"),
        gettext_noop(
            "%(user)s withdrew the %(month)s actuals of %(engagement)s to correct them; they "
            "will be submitted again."
        ),
    ),
    "approved": (
        gettext_noop("%(engagement)s: the %(month)s actuals were approved"),
        gettext_noop("The %(month)s actuals of %(engagement)s were approved and are now locked."),
    ),
    "returned": (
        gettext_noop("%(engagement)s: the %(month)s actuals were returned"),
        gettext_noop(
            "The manager returned the %(month)s actuals of %(engagement)s.\nReason: %(reason)s\n"
            "Please correct them and submit again."
        ),
    ),
    "reopened": (
        gettext_noop("%(engagement)s: the %(month)s actuals were reopened"),
        gettext_noop(
            "The manager reopened the approved %(month)s actuals of %(engagement)s.\n"
            "Reason: %(reason)s"
        ),
    ),
    "monthly_report": (
        gettext_noop("%(engagement)s: the %(month)s monthly report"),
        gettext_noop(
            "The %(month)s actuals of %(engagement)s were due today. The month's scorecard is "
            "attached as Excel and PDF: review it with the vendor at your regular meeting."
        ),
    ),
    "proposal": (
        gettext_noop("%(engagement)s: a new improvement proposal"),
        gettext_noop(
            "%(user)s submitted the improvement proposal “%(title)s”. Please adopt or decline it."
        ),
    ),
    "proposal_accepted": (
        gettext_noop("%(engagement)s: your improvement proposal was adopted"),
        gettext_noop("The client adopted your improvement proposal “%(title)s”. Thank you."),
    ),
    "proposal_declined": (
        gettext_noop("%(engagement)s: your improvement proposal was declined"),
        gettext_noop("The client declined your improvement proposal “%(title)s” this time."),
    ),
}


def vendor_users(engagement: Engagement) -> list[User]:
    return list(
        User.objects.filter(vendor_id=engagement.vendor_id, role=Role.VENDOR, is_active=True)
    )


def managers_of(engagement: Engagement) -> list[User]:
    """The engagement's manager in charge; every manager when it has none."""
    manager = engagement.manager
    # Only a real manager counts as "in charge": a stale or wrong assignment must never send
    # one vendor's reports to someone else.
    if manager is not None and manager.is_active and manager.effective_role == Role.MANAGER:
        return [manager]
    return list(
        User.objects.filter(is_active=True).filter(role=Role.MANAGER)
        | User.objects.filter(is_active=True, is_superuser=True)
    )


def url_for(kind: str, engagement: Engagement | None, period: dt.date | None) -> str:
    if kind == "action_overdue":
        return reverse("pdca:action_list") + (
            f"?engagement={engagement.code}" if engagement else ""
        )
    if kind == "digest" or engagement is None:
        return reverse("portal:submissions")
    if kind.startswith("proposal"):
        return reverse("portal:proposals", args=[engagement.code])
    if kind == "monthly_report":
        return reverse("scorecard:engagement", args=[engagement.code]) + f"?period={period:%Y-%m}"
    return reverse("portal:month", args=[engagement.code, f"{period:%Y-%m}"])


def render(kind: str, recipient: User, context: Mapping) -> tuple[str, str]:
    """(subject, body) of a notice in the recipient's language."""
    subject, body = MESSAGES[kind]
    with translation.override(recipient.language or settings.LANGUAGE_CODE):
        values = dict(context)
        for key in ("month", "due"):
            value = values.get(key)
            if isinstance(value, dt.date):
                fmt = "YEAR_MONTH_FORMAT" if key == "month" else "DATE_FORMAT"
                values[key] = formats.date_format(value, fmt)
        if "items" in values:
            values["items"] = "\n".join(
                "・"
                + _("%(engagement)s, %(month)s (submitted by %(user)s)")
                % {**item, "month": formats.date_format(item["month"], "YEAR_MONTH_FORMAT")}
                for item in values["items"]
            )
        return _(subject) % values, _(body) % values


# Notices a user who chose the daily digest (User.alert_digest) gets in it, not one by one: the
# alerts and the overdue-action reminders.
DIGEST_KINDS = frozenset({"kpi_red", "kpi_at_risk", "action_overdue"})


def create(
    *,
    recipient: User,
    kind: str,
    engagement: Engagement | None = None,
    period: dt.date | None = None,
    extra: Mapping | None = None,
    url: str = "",
) -> Notification:
    context = {
        "engagement": engagement.name if engagement else "",
        "month": period,
        **(extra or {}),
    }
    subject, body = render(kind, recipient, context)
    return Notification.objects.create(
        recipient=recipient,
        kind=kind,
        engagement=engagement,
        period=period,
        subject=subject[:300],
        body=body,
        url=url or url_for(kind, engagement, period),
        in_digest=kind in DIGEST_KINDS and recipient.alert_digest,
    )


def notify(
    *,
    recipients: Iterable[User],
    kind: str,
    engagement: Engagement | None = None,
    period: dt.date | None = None,
    extra: Mapping | None = None,
    url: str = "",
) -> list[Notification]:
    """Write a notice per recipient now; queue their e-mails once the transaction commits
    (except those left for the recipient's daily digest)."""
    notes = [
        create(recipient=r, kind=kind, engagement=engagement, period=period, extra=extra, url=url)
        for r in {r.pk: r for r in recipients}.values()
    ]
    ids = [n.pk for n in notes if not n.in_digest]
    if ids:
        transaction.on_commit(lambda: _queue(ids))
    return notes


def _queue(ids: list[int]) -> None:
    from portal.tasks import deliver_notification

    for pk in ids:
        # With the broker down the notice stays un-e-mailed and deliver_pending sends it later.
        if not queueing.send(deliver_notification, pk):
            break


# An e-mail that failed this many times is given up (the in-app notice stays).
MAX_EMAIL_ATTEMPTS = 10
# The sweep leaves younger notices to the task sent on commit, and older ones to history.
PENDING_AFTER = dt.timedelta(seconds=30)
PENDING_FOR = dt.timedelta(days=3)


def pending_ids(*, now: dt.datetime | None = None) -> list[int]:
    """Notices whose e-mail is owed: not sent (the broker was down, or sending failed)."""
    now = now or timezone.now()
    return list(
        Notification.objects.filter(
            emailed_at__isnull=True,
            in_digest=False,
            email_attempts__lt=MAX_EMAIL_ATTEMPTS,
            created_at__lt=now - PENDING_AFTER,
            created_at__gte=now - PENDING_FOR,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )


def deliver_pending() -> int:
    """The beat sweep: send the e-mails still owed; returns how many were queued."""
    ids = pending_ids()
    _queue(ids)
    return len(ids)


def send_email(notification_id: int) -> bool:
    """E-mail one notice at most once: the row is claimed before the message goes out, and
    released when sending fails (the exception propagates; the sweep tries again)."""
    now = timezone.now()
    if not Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
        emailed_at=now, email_attempts=F("email_attempts") + 1
    ):
        return False
    try:
        return _send(notification_id)
    except Exception:
        Notification.objects.filter(pk=notification_id, emailed_at=now).update(emailed_at=None)
        raise


def _send(notification_id: int) -> bool:
    note = Notification.objects.select_related("recipient").get(pk=notification_id)
    address = note.recipient.email
    if not address:
        return False
    body = note.body
    site = getattr(settings, "SITE_URL", "")
    if site and note.url:
        body += "\n\n" + site.rstrip("/") + note.url
    message = EmailMessage(note.subject, body, None, [address])
    if (
        note.kind == "monthly_report"
        and note.period
        and (engagement := note.engagement) is not None
    ):
        from scorecard.reports import monthly_report_attachments

        language = note.recipient.language or settings.LANGUAGE_CODE
        for filename, content, mimetype in monthly_report_attachments(
            engagement, note.period, language
        ):
            message.attach(filename, content, mimetype)
    message.send()
    return True


def send_digests(*, now: dt.datetime | None = None) -> int:
    """The daily digest: one e-mail per user with every notice left for it (in_digest) since the
    last one. The notices are claimed (emailed_at) before the e-mail goes out and released when
    sending fails, so a second run, or beat re-sending the job, mails nobody twice. Returns the
    e-mails sent."""
    now = now or timezone.now()
    owed = Notification.objects.filter(
        in_digest=True, emailed_at__isnull=True, created_at__gte=now - PENDING_FOR
    )
    sent = 0
    for recipient_id in sorted(set(owed.values_list("recipient_id", flat=True))):
        ids = list(owed.filter(recipient_id=recipient_id).values_list("pk", flat=True))
        claimed = Notification.objects.filter(pk__in=ids, emailed_at__isnull=True)
        if not claimed.update(emailed_at=now, email_attempts=F("email_attempts") + 1):
            continue
        notes = list(
            Notification.objects.filter(pk__in=ids, emailed_at=now)
            .select_related("recipient")
            .order_by("created_at", "pk")
        )
        try:
            sent += _send_digest(notes)
        except Exception:
            Notification.objects.filter(pk__in=ids, emailed_at=now).update(emailed_at=None)
            log.exception(
                "the digest of user %s failed; it is tried again at the next run", recipient_id
            )
    return sent


def _send_digest(notes: list[Notification]) -> int:
    recipient = notes[0].recipient
    if not recipient.email:
        return 0
    site = getattr(settings, "SITE_URL", "").rstrip("/")
    with translation.override(recipient.language or settings.LANGUAGE_CODE):
        subject = ngettext(
            "Your daily digest: %(count)d alert",
            "Your daily digest: %(count)d alerts",
            len(notes),
        ) % {"count": len(notes)}
        lines = [
            "・" + note.subject + (f"\n  {site}{note.url}" if site and note.url else "")
            for note in notes
        ]
        body = "\n".join(lines)
    EmailMessage(subject, body, None, [recipient.email]).send()
    return 1


def unread_count(user: User | AnonymousUser) -> int:
    """For the navigation badge: the user's unread notices."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
