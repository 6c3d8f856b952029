"""A funnel (`scorecard:funnel`): a formula KPI that is a volume times conversion rates, drawn
step by step with each step's count, rate and status.
"""

from __future__ import annotations

import pandas as pd
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kpi_planner.access import get_visible_or_404, nodes_for
from scorecard import charts, queries
from scorecard.funnel import funnel_factors, funnel_steps
from scorecard.tables import Column, Table
from scorecard.views._common import _csv_or_page, _figure, _grain, _month, _period_ctx


@login_required
@require_GET
def funnel(request: HttpRequest, tree: str, node: str) -> HttpResponse:
    result = get_visible_or_404(
        nodes_for(request.user).select_related("tree", "engagement"), tree__code=tree, code=node
    )
    factors = funnel_factors(result.formula) if result.rollup == "formula" else None
    if factors is None:
        raise Http404
    volume_code, rate_codes = factors
    visible = nodes_for(request.user).filter(tree=result.tree)
    month, bad = _month(request, visible.filter(pk__in=result.children.values("pk")))
    grain = _grain(request)
    nodes = list(
        visible.filter(code__in=[result.code, volume_code, *rate_codes]).values(
            *queries.NODE_FIELDS
        )
    )
    rollups = queries.rollups_at(nodes, [n["id"] for n in nodes], grain, [month])
    by_code = {}
    for row in queries.kpi_rows(nodes, rollups, grain, month):
        by_code[row["code"]] = row
    if volume_code not in by_code or any(c not in by_code for c in rate_codes):
        raise Http404  # a step the user may not see
    steps = funnel_steps(
        by_code[volume_code], [by_code[c] for c in rate_codes], by_code[result.code]
    )
    frame = pd.DataFrame(
        [
            {
                "stage": s.name,
                "count": s.count,
                "count_target": s.count_target,
                "rate": s.rate,
                "rate_target": s.rate_target,
                "status": s.status,
            }
            for s in steps
        ]
    ).astype({"count": float, "count_target": float, "rate": float, "rate_target": float})
    table = Table(
        "steps",
        _("Funnel steps"),
        [
            Column(_("Stage")),
            Column(_("Conversion rate")),
            Column(_("Count"), "number"),
            Column(_("Target count"), "number"),
            Column(_("Rate (%)"), "number1"),
            Column(_("Target rate (%)"), "number1"),
            Column(_("Achievement"), "pct"),
            Column(_("Status"), "status"),
        ],
        [
            [
                s.name,
                s.rate_name or "",
                s.count,
                s.count_target,
                s.rate,
                s.rate_target,
                s.achievement if s.rate_name else None,
                s.status if s.rate_name else "none",
            ]
            for s in steps
        ],
    )
    fig = charts.funnel_figure(frame, title=_("%(name)s: funnel") % {"name": result.name})
    ctx = {
        **_period_ctx(request, month, grain, bad),
        "node": result,
        "tree": result.tree,
        "steps": steps,
        "figure": _figure("funnel", fig, table),
    }
    return _csv_or_page(
        request, "scorecard/funnel.html", ctx, [table], f"{result.tree.code}-{result.code}-funnel"
    )
