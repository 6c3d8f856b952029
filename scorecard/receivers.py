"""The scorecard's subscriptions to what the KPI tree announces (kpitree.events)."""

from __future__ import annotations

from django.dispatch import receiver

from kpitree import events
from scorecard import services


@receiver(events.tree_recomputed, dispatch_uid="scorecard.snapshot_after_recompute")
def snapshot_after_recompute(sender: object, tree_id: int, **kwargs: object) -> None:
    services.snapshot_engagements_for_tree(tree_id)
