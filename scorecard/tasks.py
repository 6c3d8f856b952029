"""Celery tasks of the scorecard: thin wrappers around scorecard.services."""

from celery import shared_task

from scorecard import events, services


@shared_task(
    name="scorecard.forecast_tree", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def forecast_tree(tree_id: int) -> dict:
    """Refresh the forecasts of the tree's scorecard KPIs (skips unchanged series), then announce
    it (`events.forecasts_refreshed`: pdca's alerts)."""
    result = services.forecast_tree(tree_id)
    events.forecasts_refreshed.send(sender=None, tree_id=tree_id)
    return result
