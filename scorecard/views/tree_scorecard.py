"""A KPI tree's scorecard (`scorecard:tree`): its KPIs by perspective, its KPI matrix and links to
its funnels.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kpi_planner.access import get_visible_or_404, nodes_for, trees_for
from scorecard import charts, queries, scoring
from scorecard.funnel import funnel_factors
from scorecard.scoring import PERSPECTIVES, Thresholds
from scorecard.tables import Column, Table
from scorecard.views._common import _csv_or_page, _figure, _grain, _month, _period_ctx
from scorecard.views.kpi_matrix import _matrix_frame, _matrix_table


@login_required
@require_GET
def tree(request: HttpRequest, code: str) -> HttpResponse:
    obj = get_visible_or_404(trees_for(request.user), code=code)
    nodes_qs = nodes_for(request.user).filter(tree=obj, perspective__in=PERSPECTIVES)
    month, bad = _month(request, nodes_qs)
    grain = _grain(request)
    nodes = list(nodes_qs.order_by("position", "id").values(*queries.NODE_FIELDS))
    rollups = queries.rollups_at(nodes, nodes_qs, grain, [month])
    card = scoring.build_scorecard(
        queries.kpi_rows(nodes, rollups, grain, month),
        thresholds=Thresholds(obj.green_threshold, obj.amber_threshold),
    )
    labels = charts.perspective_labels()
    kpi_table = Table(
        "kpis",
        _("KPIs"),
        [
            Column(_("KPI"), "link"),
            Column(_("Perspective")),
            Column(_("Status"), "status"),
            Column(_("Actual"), "number"),
            Column(_("Target"), "number"),
            Column(_("Achievement"), "pct"),
            Column(_("Score"), "number1"),
            Column(_("Weight"), "number"),
        ],
        [
            [
                (k.name, reverse("scorecard:kpi", args=[obj.code, k.code])),
                labels[k.perspective],
                k.status,
                k.extra["actual"],
                k.extra["target"],
                k.achievement,
                k.score,
                k.weight,
            ]
            for p in card.perspectives.values()
            for k in scoring.sort_attention_first(p.kpis)
        ],
    )
    matrix_table = _matrix_table(card.kpis())
    all_nodes = (
        nodes_for(request.user).filter(tree=obj, rollup="formula").values("code", "name", "formula")
    )
    ctx = {
        **_period_ctx(request, month, grain, bad),
        "tree": obj,
        "card": card,
        "perspectives": [(p, labels[p.key]) for p in card.perspectives.values()],
        "figure": _figure(
            "matrix",
            charts.matrix_figure(_matrix_frame(card.kpis()), thresholds=card.thresholds),
            matrix_table,
        ),
        "funnels": [n for n in all_nodes if funnel_factors(n["formula"])],
    }
    return _csv_or_page(
        request, "scorecard/tree.html", ctx, [kpi_table, matrix_table], f"{obj.code}-{month:%Y-%m}"
    )
