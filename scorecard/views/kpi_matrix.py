"""An engagement's KPI matrix (`scorecard:matrix`): importance against achievement. Its table and
chart frame are also drawn on a tree's scorecard (tree_scorecard).
"""

from __future__ import annotations

import pandas as pd
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kpi_planner.access import engagements_for, get_visible_or_404, nodes_for
from scorecard import charts, queries, scoring
from scorecard.tables import Column, Table
from scorecard.views._common import _csv_or_page, _figure, _grain, _month, _period_ctx


def _matrix_table(kpis: list[scoring.KpiScore]) -> Table:
    labels = charts.perspective_labels()
    columns = [
        Column(_("KPI"), "link"),
        Column(_("Perspective")),
        Column(_("Importance"), "number"),
        Column(_("Achievement"), "pct"),
        Column(_("Status"), "status"),
    ]
    rows = [
        [
            (k.name, reverse("scorecard:kpi", args=[k.extra["tree_code"], k.code])),
            labels.get(k.perspective, ""),
            k.extra.get("importance"),
            k.achievement,
            k.status,
        ]
        for k in sorted(
            kpis,
            key=lambda k: (
                -int(k.extra.get("importance", 3)),
                k.achievement if k.achievement is not None else 1e18,
            ),
        )
    ]
    return Table("matrix", _("KPI matrix"), columns, rows)


def _matrix_frame(kpis: list[scoring.KpiScore]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "name": k.name,
                "achievement": k.achievement,
                "importance": k.extra.get("importance", 3),
                "status": k.status,
                "perspective": k.perspective,
            }
            for k in kpis
        ],
        columns=["name", "achievement", "importance", "status", "perspective"],
    ).astype({"achievement": float})


@login_required
@require_GET
def matrix(request: HttpRequest, code: str) -> HttpResponse:
    eng = get_visible_or_404(engagements_for(request.user).select_related("scoring"), code=code)
    month, bad = _month(request, nodes_for(request.user).filter(engagement=eng))
    grain = _grain(request)
    card = queries.engagement_scorecard(eng, month, grain)
    kpis = [k for k in card.kpis() if "commitment_id" not in k.extra]  # KPIs only, not words
    table = _matrix_table(kpis)
    fig = charts.matrix_figure(_matrix_frame(kpis), thresholds=card.thresholds)
    ctx = {
        **_period_ctx(request, month, grain, bad),
        "engagement": eng,
        "figure": _figure("matrix", fig, table),
    }
    return _csv_or_page(
        request, "scorecard/matrix.html", ctx, [table], f"{eng.code}-matrix-{month:%Y-%m}"
    )
