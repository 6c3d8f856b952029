"""Celery tasks of the KPI tree: thin wrappers around kpitree.services."""

from celery import shared_task

from kpitree import services


@shared_task(name="kpitree.recompute_tree", acks_late=True, reject_on_worker_lost=True)
def recompute_tree(tree_id: int) -> dict:
    """Recompute one tree's rollups, then snapshot the scores of the engagements in it.

    Both steps are idempotent, so a redelivery after a crash is harmless.
    """
    from scorecard.services import snapshot_engagements_for_tree

    result = services.tree_recompute(tree_id=tree_id)
    snapshot_engagements_for_tree(tree_id)
    return result


@shared_task(name="kpitree.recompute_stale")
def recompute_stale() -> list[int]:
    """Beat sweep: enqueue a recompute for every tree whose rollups are behind its data."""
    ids = services.stale_tree_ids()
    for tree_id in ids:
        recompute_tree.delay(tree_id)
    return ids
