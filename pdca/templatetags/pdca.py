"""`{% load pdca %}`: the PDCA records shown on the pages of the apps below (the KPI page, the
engagement scorecard, the home pages), which never import pdca."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from kpi_planner.access import actions_for, can_act_on
from pdca.models import Action

register = template.Library()

OPEN = [Action.Status.OPEN, Action.Status.IN_PROGRESS]


def _open(user: Any, **lookups: Any) -> list[Action]:
    return list(
        actions_for(user)
        .filter(status__in=OPEN, **lookups)
        .select_related("engagement", "node__tree", "owner")
        .order_by("due_on", "pk")[:50]
    )


@register.inclusion_tag("pdca/actions/_panel.html", takes_context=True)
def kpi_actions(context: dict, node: Any, period: Any = None, status: str = "") -> dict:
    """The KPI's open actions, and (for whoever may act) a button to open a corrective one when
    the KPI is off track or at risk."""
    user = context["request"].user
    engagement = getattr(node, "engagement", None)
    source = {"red": Action.Source.OFF_TRACK, "at_risk": Action.Source.AT_RISK}.get(status, "")
    return {
        "actions": _open(user, node=node),
        "today": timezone.localdate(),
        "engagement": engagement,
        "node": node,
        "period": period,
        "source": source,
        "may_open": engagement is not None and can_act_on(user, engagement),
        "heading": "kpi",
    }


@register.inclusion_tag("pdca/actions/_panel.html", takes_context=True)
def engagement_actions(context: dict, engagement: Any) -> dict:
    user = context["request"].user
    return {
        "actions": _open(user, engagement=engagement),
        "today": timezone.localdate(),
        "engagement": engagement,
        "may_open": can_act_on(user, engagement),
        "source": Action.Source.MANUAL,
        "heading": "engagement",
    }


@register.inclusion_tag("pdca/actions/_panel.html", takes_context=True)
def my_actions(context: dict) -> dict:
    """The open actions the user owns, overdue first (the home page)."""
    user = context["request"].user
    return {
        "actions": _open(user, owner=user) if user.is_authenticated else [],
        "today": timezone.localdate(),
        "heading": "mine",
        "hide_empty": True,
    }


@register.inclusion_tag("pdca/actions/_panel.html", takes_context=True)
def visible_actions(context: dict) -> dict:
    """Every open action the user sees (the vendor portal: its own engagements'), overdue first."""
    user = context["request"].user
    return {
        "actions": _open(user) if user.is_authenticated else [],
        "today": timezone.localdate(),
        "heading": "visible",
        "hide_empty": True,
    }
