"""What pdca does when the apps below it announce something (connected in PdcaConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver

from engagements import events as engagement_events
from engagements.models import Engagement
from pdca.services import alerts, reviews
from scorecard import events as scorecard_events


@receiver(scorecard_events.forecasts_refreshed, dispatch_uid="pdca.alerts_after_forecasts")
def alerts_after_forecasts(sender: object, tree_id: int, **kwargs: object) -> None:
    """The tree's rollups and forecasts are current (this runs in the forecast task's worker):
    raise and clear its alerts now."""
    alerts.alerts_evaluate(tree_id)


@receiver(engagement_events.engagement_phase_changed, dispatch_uid="pdca.phase_review")
def phase_review(
    sender: object,
    engagement: Engagement,
    old_phase: str,
    new_phase: str,
    user: object,
    **kwargs: object,
) -> None:
    """A new phase opens a review proposing the catalogue's KPIs to add and to retire."""
    reviews.phase_review_open(
        user=user, engagement=engagement, old_phase=old_phase, new_phase=new_phase
    )
