"""The portal's subscriptions to what the apps below it announce (kpitree.events)."""

from __future__ import annotations

import datetime as dt

from django.dispatch import receiver

from kpitree import events
from portal.services import workflow


@receiver(events.actuals_recorded, dispatch_uid="portal.months_become_drafts")
def months_become_drafts(sender: object, months: dict[int, set[dt.date]], **kwargs: object) -> None:
    # Inside the writing transaction: an actual and its month's draft are written together.
    for engagement_id, periods in months.items():
        workflow.after_write(engagement_id=engagement_id, periods=periods)
