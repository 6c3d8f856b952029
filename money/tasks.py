"""Celery tasks of money: thin wrappers around money.services."""

from __future__ import annotations

from celery import shared_task

from money.services import statements_compute


@shared_task(name="money.compute_statements", acks_late=True, ignore_result=True)
def compute_statements(engagement_id: int | None = None) -> dict[str, int]:
    """The statements of one engagement (all when None): after a month is approved or reopened,
    and nightly as the sweep (safe with several workers: each engagement is written under a
    lock on its row, and a statement whose numbers did not change is not rewritten)."""
    result = statements_compute(engagement_ids=None if engagement_id is None else [engagement_id])
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "locked": result.locked,
    }
