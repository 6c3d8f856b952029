"""What money does when the apps below it announce something (connected in MoneyConfig.ready)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import transaction
from django.dispatch import receiver

from engagements.models import Engagement
from kpi_planner import queueing
from kpitree import events as tree_events
from kpitree.models import Node
from money.models import MoneySettings, RuleSet
from portal import events as portal_events


@receiver(portal_events.month_lock_changed, dispatch_uid="money.statements_after_approval")
def statements_after_approval(
    sender: object, engagement_id: int, period: dt.date, approved: bool, **kwargs: object
) -> None:
    """An approved month gets its statement (a worker computes it); a reopened one will be
    recomputed when it is approved again."""
    if (
        approved
        and RuleSet.objects.filter(
            engagement_id=engagement_id, status=RuleSet.Status.ADOPTED
        ).exists()
    ):
        from money.tasks import compute_statements

        queueing.send(compute_statements, engagement_id)


@receiver(tree_events.tree_recomputed, dispatch_uid="money.statements_after_recompute")
def statements_after_recompute(sender: object, tree_id: int, **kwargs: object) -> None:
    """A target of an approved month may have moved its achievement: bring the statements of
    the tree's engagements (those with rules) up to date. Runs in the recompute's worker."""
    from money.services import statements_compute

    ids = list(
        RuleSet.objects.filter(
            status=RuleSet.Status.ADOPTED,
            engagement_id__in=Node.objects.filter(tree_id=tree_id).values("engagement_id"),
        )
        .values_list("engagement_id", flat=True)
        .distinct()
    )
    if ids:
        statements_compute(engagement_ids=ids)


@receiver(tree_events.actuals_recorded, dispatch_uid="money.feed_after_actuals")
def feed_after_actuals(
    sender: object, months: Mapping[int, set[dt.date]], user: object, channel: str, **kwargs: object
) -> None:
    """A gain or acquired-customers actual moves ROI and CPA: write the fed nodes once the
    write commits. The feed's own writes (channel "system") do not feed again."""
    if channel == "system":
        return
    engagement_ids = set(
        MoneySettings.objects.filter(engagement_id__in=list(months)).values_list(
            "engagement_id", flat=True
        )
    )
    if not engagement_ids:
        return

    def feed() -> None:
        from money.services import money_feed

        for engagement in Engagement.objects.filter(pk__in=engagement_ids):
            money_feed(user=user, engagement=engagement, months=sorted(months[engagement.pk]))  # type: ignore[arg-type]

    transaction.on_commit(feed)
