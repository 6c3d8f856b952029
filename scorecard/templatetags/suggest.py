"""`{% load suggest %}{% suggested_targets node %}`: a KPI's suggested targets for the months of
its plan still to come, with the reasoning, and a manager's "Fill the targets" button
(scorecard/suggest_views.py)."""

from __future__ import annotations

from typing import Any

from django import template

from scorecard.suggest_views import panel_context

register = template.Library()


@register.inclusion_tag("scorecard/_suggest.html", takes_context=True)
def suggested_targets(context: dict, node: Any) -> dict:
    """The node must be one the request's user may see (the KPI page's)."""
    return panel_context(context["request"], node)
