"""`{% load money %}`: an engagement's money on the pages below money (the scorecard, the
portal's home): its lifetime ROI and CPA and its statements waiting for an answer."""

from __future__ import annotations

from typing import Any

from django import template

from kpi_planner.access import can_answer_statement, statements_for
from kpi_planner.access import can_manage as can_manage_money
from money import queries
from money.models import Statement

register = template.Library()


@register.inclusion_tag("money/_summary.html", takes_context=True)
def engagement_money(context: dict, engagement: Any) -> dict:
    user = context["request"].user
    lifetime = next((r for r in queries.returns(engagement) if r.grain == "lifetime"), None)
    statements = statements_for(user).filter(engagement=engagement)
    return {
        "engagement": engagement,
        "lifetime": lifetime,
        "settings": queries.money_settings(engagement),
        "latest": statements.order_by("-period").first(),
        "waiting": statements.exclude(status=Statement.Status.AGREED).count(),
        "may_answer": can_answer_statement(user, engagement),
    }


@register.inclusion_tag("money/_waiting.html", takes_context=True)
def statements_waiting(context: dict) -> dict:
    """The statements waiting for the reader: the vendor's to accept or dispute, the manager's
    disputed lines to answer."""
    user = context["request"].user
    visible = statements_for(user).select_related("engagement")
    if can_manage_money(user):
        waiting = list(visible.filter(status=Statement.Status.DISPUTED).order_by("period")[:20])
    else:
        open_ = visible.filter(status=Statement.Status.OPEN).order_by("period")[:20]
        waiting = [s for s in open_ if can_answer_statement(user, s.engagement)]
    return {"statements": waiting}
