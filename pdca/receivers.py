"""What pdca does when the apps below it announce something (connected in PdcaConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver

from pdca.services import alerts
from scorecard import events as scorecard_events


@receiver(scorecard_events.forecasts_refreshed, dispatch_uid="pdca.alerts_after_forecasts")
def alerts_after_forecasts(sender: object, tree_id: int, **kwargs: object) -> None:
    """The tree's rollups and forecasts are current (this runs in the forecast task's worker):
    raise and clear its alerts now."""
    alerts.alerts_evaluate(tree_id)
