"""Celery tasks of the PDCA loop: thin wrappers around pdca.services."""

from celery import shared_task

from pdca.services import actions, alerts
from portal import notifications


@shared_task(name="pdca.evaluate_alerts", acks_late=True, ignore_result=True)
def evaluate_alerts(tree_id: int) -> dict[str, int]:
    """Raise and clear the alerts of a tree's KPIs (pdca.services.alerts)."""
    return alerts.alerts_evaluate(tree_id)


@shared_task(name="pdca.send_alert_digests", ignore_result=True)
def send_alert_digests() -> int:
    """Beat, daily: the digest e-mail of those who chose it (portal.notifications.send_digests)."""
    return notifications.send_digests()


@shared_task(name="pdca.remind_overdue_actions", ignore_result=True)
def remind_overdue_actions() -> int:
    """Beat, daily: reminders of open actions past due (pdca.services.actions)."""
    return actions.actions_remind_overdue()
