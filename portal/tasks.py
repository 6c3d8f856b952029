"""Celery tasks of the vendor portal: thin wrappers around portal.reminders / notifications.

Beat schedules are declared in settings.CELERY_BEAT_SCHEDULE. Each task is safe to run twice:
reminders are recorded before sending and e-mails are claimed before sending.
"""

from celery import shared_task

from portal import notifications, reminders


@shared_task(name="engagements.send_reminders")
def send_reminders() -> dict[str, int]:
    """Daily: "due tomorrow" reminders and overdue notices for monthly actuals."""
    return reminders.send_due_reminders()


@shared_task(name="engagements.send_approval_digest")
def send_approval_digest() -> int:
    """Daily: each manager's digest of months awaiting approval."""
    return reminders.send_approval_digests()


@shared_task(name="engagements.deliver_notification", acks_late=True, ignore_result=True)
def deliver_notification(notification_id: int) -> bool:
    """E-mail one in-app notice (at most once)."""
    return notifications.send_email(notification_id)


@shared_task(name="engagements.deliver_pending", ignore_result=True)
def deliver_pending() -> int:
    """Beat sweep: queue the e-mails still owed (broker outage, mail server failure)."""
    return notifications.deliver_pending()
