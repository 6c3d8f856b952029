"""`{% load pdca_reviews %}`: an engagement's reviews on the pages below pdca (the scorecard)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from kpi_planner.access import reviews_for
from kpitree.lint import CADENCE_DAYS
from kpitree.models import NodeVersion, ValueAudit
from pdca.models import Review
from pdca.services import reviews as services

register = template.Library()


@register.inclusion_tag("pdca/reviews/_summary.html", takes_context=True)
def engagement_reviews(context: dict, engagement: Any) -> dict:
    """The last closed review, the next one due by the engagement's cadence, the open ones."""
    reviews = reviews_for(context["request"].user).filter(engagement=engagement)
    last = reviews.filter(status=Review.Status.CLOSED).order_by("-held_on").first()
    days = CADENCE_DAYS.get(engagement.review_cadence, 92)
    return {
        "engagement": engagement,
        "last": last,
        "next_due": (last.held_on + dt.timedelta(days=days)) if last else None,
        "open": list(reviews.filter(status=Review.Status.OPEN).order_by("-held_on")[:5]),
        "restatements": _visible(context, services.review_restatements(engagement)),
    }


def _visible(context: dict, restatements: list[services.Restatement]) -> list:
    """Only the restatements whose review the reader may open."""
    ids = set(
        reviews_for(context["request"].user)
        .filter(pk__in=[r.review.pk for r in restatements])
        .values_list("pk", flat=True)
    )
    return [r for r in restatements if r.review.pk in ids]


@register.inclusion_tag("pdca/reviews/_versions.html", takes_context=True)
def kpi_versions(context: dict, node: Any) -> dict:
    """The KPI's history, newest first: each definition version (what changed, why, who, when),
    each change of a target with its reason, and the months a review decision restated."""
    # A change replaces a target (a first target is not a change of one).
    targets = list(
        ValueAudit.objects.filter(
            node=node, kind=ValueAudit.Kind.TARGET, old_value__isnull=False
        ).select_related("user")
    )
    restated = []
    if node.engagement_id is not None:
        restated = _visible(context, services.review_restatements(node.engagement, node))
    return {
        "versions": list(NodeVersion.objects.filter(node=node).select_related("user")),
        "targets": targets,
        "restatements": restated,
        "node": node,
    }
