"""`{% load pdca_reviews %}`: an engagement's reviews on the pages below pdca (the scorecard)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from kpi_planner.access import reviews_for
from kpitree.lint import CADENCE_DAYS
from kpitree.models import NodeVersion
from pdca.models import Review

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
    }


@register.inclusion_tag("pdca/reviews/_versions.html")
def kpi_versions(node: Any) -> dict:
    """The KPI's definition versions, newest first: what changed, why, who, when."""
    return {"versions": list(NodeVersion.objects.filter(node=node).select_related("user"))}
