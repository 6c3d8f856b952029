"""Celery tasks of the KPI tree: thin wrappers around kpitree.recompute and the import jobs
(kpitree.services.jobs)."""

from celery import shared_task

from kpitree import events, recompute, services


# ignore_result: nobody reads the result, and the web process must not subscribe to a result
# backend while it sends (a Redis result backend that is down would hang the request).
@shared_task(
    name="kpitree.recompute_tree", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def recompute_tree(tree_id: int) -> dict:
    """Bring one tree's rollups up to date (only what changed), then announce it
    (`events.tree_recomputed`: the scorecard snapshots the scores of the engagements in it).

    Both steps are idempotent and serialised per tree, so a redelivery after a crash, or a
    second task for the same tree, is harmless: it finds the tree up to date and does nothing.
    """
    result = recompute.tree_recompute(tree_id=tree_id, full=False)
    if not result.get("skipped"):
        events.tree_recomputed.send(sender=None, tree_id=tree_id, result=result)
    return result


@shared_task(name="kpitree.recompute_stale", ignore_result=True)
def recompute_stale() -> list[int]:
    """Beat sweep: send a recompute for every tree whose rollups are behind its data and that
    has none waiting (after a broker outage, or a worker that died with its task)."""
    return recompute.sweep()


@shared_task(
    name="kpitree.run_import_job", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def run_import_job(job_id: str) -> str:
    """Run a queued actuals import (services.import_job_run): the conditional claim makes a
    redelivery, or the same job sent twice, run it once."""
    return services.import_job_run(job_id=job_id)


@shared_task(name="kpitree.resend_import_jobs", ignore_result=True)
def resend_import_jobs() -> list[str]:
    """Beat sweep: send again the imports whose message was lost (services.import_jobs_resend)."""
    return services.import_jobs_resend()
