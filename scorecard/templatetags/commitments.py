"""`{% load commitments %}{% engagement_commitments engagement month %}`: the engagement's
commitments (共通の約束) and their check of the month, beside the numbers of its scorecard."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from kpi_planner.access import can_manage
from scorecard import commitment_services as services

register = template.Library()


@register.inclusion_tag("scorecard/_commitments.html", takes_context=True)
def engagement_commitments(context: dict, engagement: Any, month: dt.date) -> dict:
    """Two queries: the active commitments and their checks of the month."""
    lines = services.commitment_lines(engagement, month, n_months=1)
    return {
        "engagement": engagement,
        "month": month,
        "items": [
            (
                line,
                services.ASSESSMENT_STATUS[line.check.manager_assessment if line.check else ""],
            )
            for line in lines
        ],
        "can_manage": can_manage(context["request"].user),
    }
