"""The SV overview (`scorecard:overview`): every visible engagement's scorecard in one table,
filtered and sorted, with the count of engagements by status and its CSV exports.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from engagements.models import OutsourcingType, Phase
from kpi_planner.access import engagements_for, nodes_for
from kpi_planner.numbers import Numbers
from scorecard import charts, queries
from scorecard.scoring import PERSPECTIVES
from scorecard.tables import Column, Table
from scorecard.views._common import _csv_or_page, _figure, _grain, _month, _period_ctx

SORTS = (
    "engagement",
    "vendor",
    "type",
    "phase",
    "overall",
    *PERSPECTIVES,
    "off_track",
    "at_risk",
    "last",
)


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    visible = engagements_for(request.user)
    month, bad = _month(
        request,
        nodes_for(request.user).filter(engagement__in=visible, perspective__in=PERSPECTIVES),
    )
    grain = _grain(request)
    rows = queries.overview(request.user, month, grain)
    vendors = sorted(
        {(r.engagement.vendor.code, r.engagement.vendor.name) for r in rows}, key=lambda v: v[1]
    )
    f = {k: request.GET.get(k, "") for k in ("type", "phase", "vendor", "status")}
    rows = [
        r
        for r in rows
        if (not f["type"] or r.engagement.outsourcing_type == f["type"])
        and (not f["phase"] or r.engagement.phase == f["phase"])
        and (not f["vendor"] or r.engagement.vendor.code == f["vendor"])
        and (not f["status"] or r.overall_status == f["status"])
    ]
    sort = request.GET.get("sort", "")
    sort = sort if sort.lstrip("-") in SORTS else "overall"
    rows = _sorted(rows, sort)
    tally = Counter(
        (scope, status)
        for r in rows
        for scope, status in [("overall", r.overall_status)]
        + [(p, r.perspectives[p][1]) for p in PERSPECTIVES]
    )
    counts = pd.DataFrame(
        [
            [tally[(scope, s)] for s in ("green", "amber", "red", "none")]
            for scope in ("overall", *PERSPECTIVES)
        ],
        index=["overall", *PERSPECTIVES],
        columns=["green", "amber", "red", "none"],
    )
    scope_labels = {"overall": _("Overall"), **charts.perspective_labels()}
    status_table = Table(
        "status",
        _("Engagements by status"),
        [Column(_("Scope"))]
        + [Column(label, "number") for label in charts.status_labels().values()],
        [[scope_labels[i], *(int(v) for v in counts.loc[i])] for i in counts.index],
    )
    ctx = {
        **_period_ctx(request, month, grain, bad),
        "rows": rows,
        "lines": _overview_lines(rows, month, grain),
        "filters": f,
        "sort": sort,
        "types": OutsourcingType.choices,
        "phases": Phase.choices,
        "vendors": vendors,
        "statuses": list(charts.status_labels().items()),
        "perspectives": list(charts.perspective_labels().items()),
        "figure": _figure("status", charts.status_figure(counts), status_table),
    }
    return _csv_or_page(
        request,
        "scorecard/overview.html",
        ctx,
        [status_table],
        f"scorecards-{month:%Y-%m}",
        csv_only={"engagements": lambda: _overview_table(rows)},
    )


def _perspective_score(perspective: str) -> Callable[[queries.OverviewRow], float | None]:
    return lambda r: r.perspectives[perspective][0]


def _sorted(rows: list[queries.OverviewRow], sort: str) -> list[queries.OverviewRow]:
    key = sort.lstrip("-")
    # The values sorted on: texts, numbers or months, one kind per key (None: no value).
    getters: dict[str, Callable[[queries.OverviewRow], Any]] = {
        "engagement": lambda r: r.engagement.code,
        "vendor": lambda r: r.engagement.vendor.name,
        "type": lambda r: r.engagement.outsourcing_type,
        "phase": lambda r: r.engagement.phase,
        "overall": lambda r: r.overall,
        "off_track": lambda r: r.off_track,
        "at_risk": lambda r: r.at_risk,
        "last": lambda r: r.last_period,
        **{p: _perspective_score(p) for p in PERSPECTIVES},
    }
    value = getters[key]
    keyed = [(value(r), r) for r in rows]
    present = [pair for pair in keyed if pair[0] is not None]
    missing = [r for v, r in keyed if v is None]
    # Scores: the worst first by default (that is where to look); texts A→Z.
    present.sort(key=lambda pair: pair[0], reverse=sort.startswith("-"))
    return [r for _v, r in present] + missing


def _overview_lines(rows: list[queries.OverviewRow], month: dt.date, grain: str) -> list[dict]:
    """What each row of the overview shows, prepared here: the template only prints it (the page
    must stay fast with hundreds of engagements)."""
    types, phases = dict(OutsourcingType.choices), dict(Phase.choices)
    labels = charts.status_labels()
    badges = {
        k: format_html('<span class="status status-{}">{}</span>', k, v) for k, v in labels.items()
    }
    missing = format_html(
        '<span class="missing" title="{}">{}</span>', _("No KPI in this perspective"), _("missing")
    )

    numbers = Numbers()

    def cell(status: str, score: float | None, has_kpis: bool = True) -> str:
        if not has_kpis:
            return missing
        return badges[status] + format_html(
            ' <span class="score">{}</span>', numbers.number(score, 1)
        )

    base = reverse("scorecard:engagement", args=["__code__"])
    query = f"?period={month:%Y-%m}&grain={grain}"
    lines = []
    for r in rows:
        e = r.engagement
        lines.append(
            {
                "url": base.replace("__code__", e.code) + query,
                "name": e.name,
                "code": e.code,
                "vendor": e.vendor.name,
                "type": types.get(e.outsourcing_type, e.outsourcing_type),
                "phase": e.phase,
                "phase_label": phases.get(e.phase, e.phase),
                "overall": cell(r.overall_status, r.overall),
                "perspectives": [
                    cell(st, score, n > 0)
                    for score, st, n in (r.perspectives[p] for p in PERSPECTIVES)
                ],
                "off_track": r.off_track,
                "n_kpis": r.n_kpis,
                "at_risk": r.at_risk,
                "last_period": r.last_period,
                "last_at": r.last_at,
            }
        )
    return lines


def _overview_table(rows: list[queries.OverviewRow]) -> Table:
    labels = charts.perspective_labels()
    columns = [
        Column(_("Engagement"), "link"),
        Column(_("Code")),
        Column(_("Vendor")),
        Column(_("Type")),
        Column(_("Phase")),
        Column(_("Overall"), "status"),
        Column(_("Overall score"), "number1"),
        *[Column(labels[p], "status") for p in PERSPECTIVES],
        Column(_("KPIs off track"), "number"),
        Column(_("KPIs at risk of missing the year's target"), "number"),
        Column(_("Last submission"), "month"),
        Column(_("Submitted at"), "datetime"),
    ]
    out = []
    for r in rows:
        e = r.engagement
        out.append(
            [
                (e.name, reverse("scorecard:engagement", args=[e.code])),
                e.code,
                e.vendor.name,
                e.get_outsourcing_type_display(),
                e.get_phase_display(),
                r.overall_status,
                r.overall,
                *[r.perspectives[p][1] for p in PERSPECTIVES],
                r.off_track,
                r.at_risk,
                r.last_period,
                r.last_at,
            ]
        )
    return Table("engagements", _("Engagements"), columns, out)
