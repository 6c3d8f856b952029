"""An engagement's scorecard (`scorecard:engagement`): its perspectives and KPI rows (sparkline,
forecast, vendor's comments), the KPIs needing attention, the score trend and the CSV exports;
and the form that sets its perspective weights (`scorecard:weights`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kpi_planner.access import can_manage, engagements_for, get_visible_or_404, nodes_for
from kpi_planner.months import parse_month
from kpi_planner.numbers import Numbers
from scorecard import charts, queries, services
from scorecard.forecast import AT_RISK_BELOW
from scorecard.scoring import PERSPECTIVES
from scorecard.tables import Column, Table
from scorecard.views._common import _csv_or_page, _figure, _grain, _month, _period_ctx

ATTENTION_SHOWN = 15  # the summary at the top; every KPI is listed below, off-track first


def _kpi_table(key: str, title: str, lines: list[queries.KpiLine], grain: str) -> Table:
    prev_label, yago_label = _change_labels(grain)
    columns = [
        Column(_("KPI"), "link"),
        Column(_("Perspective")),
        Column(_("Status"), "status"),
        Column(_("Actual"), "number"),
        Column(_("Target"), "number"),
        Column(_("Unit")),
        Column(_("Achievement"), "pct"),
        Column(_("Score"), "number1"),
        Column(_("Weight"), "number"),
        Column(prev_label, "change"),
        Column(yago_label, "change"),
        Column(_("Probability of reaching the year's target"), "pct"),
        Column(_("Vendor's comment")),
    ]
    labels = charts.perspective_labels()
    rows = []
    for line in lines:
        k = line.kpi
        url = reverse("scorecard:kpi", args=[k.extra["tree_code"], k.code])
        f = line.forecast
        rows.append(
            [
                (k.name, url),
                labels.get(k.perspective, ""),
                k.status,
                k.extra.get("actual"),
                k.extra.get("target"),
                k.extra.get("unit", ""),
                k.achievement,
                k.score,
                k.weight,
                line.previous,
                line.year_ago,
                None if f is None or f.probability is None else f.probability * 100,
                " / ".join(c for _m, c in line.comments),
            ]
        )
    return Table(key, title, columns, rows)


def _change_labels(grain: str) -> tuple[str, str]:
    if grain == "quarter":
        return _("vs previous quarter"), _("vs same quarter last year")
    if grain == "year":
        return _("vs previous year"), _("vs two years ago")
    return _("vs previous month"), _("vs same month last year")


def _trend_table(trend: pd.DataFrame) -> Table:
    labels = charts.perspective_labels()
    columns = [Column(_("Month"), "month"), Column(_("Overall"), "number1")]
    columns += [Column(labels[p], "number1") for p in PERSPECTIVES]
    rows = [[m, *(trend.loc[m, c] for c in ["overall", *PERSPECTIVES])] for m in trend.index]
    return Table("trend", _("Scores by month"), columns, rows)


def _sparkline(series: list[tuple[dt.date, float | None, float | None]]) -> dict | None:
    """SVG polyline points (actual and target) of a 12-month series, for a small trend line."""
    values = [v for _m, a, t in series for v in (a, t) if v is not None]
    if not values:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    width, height, n = 120.0, 32.0, max(len(series) - 1, 1)

    def points(line: list[float | None]) -> str:
        return " ".join(
            f"{i * width / n:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
            for i, v in enumerate(line)
            if v is not None
        )

    last = next(((i, r[1]) for i, r in reversed(list(enumerate(series))) if r[1] is not None), None)
    dot = None
    if last:
        dot = (
            f"{last[0] * width / n:.1f}",
            f"{height - 2 - (last[1] - low) / span * (height - 4):.1f}",
        )
    return {
        "actual": points([a for _m, a, _t in series]),
        "target": points([t for _m, _a, t in series]),
        "dot": dot,
    }


@login_required
@require_GET
def engagement(request: HttpRequest, code: str) -> HttpResponse:
    eng = get_visible_or_404(engagements_for(request.user).select_related("scoring"), code=code)
    month, bad = _month(request, nodes_for(request.user).filter(engagement=eng))
    grain = _grain(request)
    page = queries.engagement_page(eng, month, grain)
    ordered = page.perspective_lines()
    trend_table = _trend_table(page.trend)
    card = page.scorecard
    lines = {p.key: _kpi_lines(plines) for p, plines in ordered}
    attention = [
        {
            "line": line,
            "url": reverse("scorecard:kpi", args=[line.kpi.extra["tree_code"], line.kpi.code]),
        }
        for line in page.attention()
    ]
    ctx = {
        **_period_ctx(request, month, grain, bad),
        "engagement": eng,
        "page": page,
        "card": card,
        "perspectives": [
            (p, charts.perspective_labels()[p.key], lines[p.key])
            for p in card.perspectives.values()
        ],
        "change_labels": _change_labels(grain),
        "attention": attention[:ATTENTION_SHOWN],
        "attention_more": max(len(attention) - ATTENTION_SHOWN, 0),
        "figure": _figure(
            "trend", charts.trend_figure(page.trend, thresholds=card.thresholds), trend_table
        ),
        "can_manage": can_manage(request.user),
        "weights": card.weights,
        "weight_fields": [
            (p, charts.perspective_labels()[p], card.weights[p]) for p in PERSPECTIVES
        ],
        "at_risk_pct": int(AT_RISK_BELOW * 100),
        "caps": sorted({n["tree__score_cap"] for n in page.nodes}) or [120],
    }
    every_line = [line for _p, plines in ordered for line in plines]
    return _csv_or_page(
        request,
        "scorecard/engagement.html",
        ctx,
        [trend_table],
        f"{eng.code}-{month:%Y-%m}",
        csv_only={"kpis": lambda: _kpi_table("kpis", _("KPIs"), every_line, grain)},
    )


def _kpi_lines(lines: list[queries.KpiLine]) -> list[dict]:
    """Each KPI row of the engagement page, rendered here with format_html (escaped) rather than
    by the template: a scorecard may have hundreds of KPIs, and the template engine's cost per
    variable would then be most of the page's time."""
    n = Numbers()
    labels = charts.status_labels()
    spark_label = _("Actual (solid) and target (dotted) over the last 12 months")
    at_risk, likely = _("at risk"), _("likely")
    base = reverse("scorecard:kpi", args=["__tree__", "__node__"])
    out = []
    for line in lines:
        k = line.kpi
        unit = k.extra.get("unit") or ""
        f = line.forecast
        spark = _sparkline(line.series)
        if spark:
            dot = (
                format_html('<circle class="spark-dot" cx="{}" cy="{}" r="2.5"/>', *spark["dot"])
                if spark["dot"]
                else ""
            )
            spark_html = format_html(
                '<svg class="spark" viewBox="0 0 120 32" width="120" height="32" role="img" aria-label="{}">'
                '<polyline class="spark-target" points="{}"/><polyline class="spark-actual" points="{}"/>{}</svg>',
                spark_label,
                spark["target"],
                spark["actual"],
                dot,
            )
        else:
            spark_html = mark_safe('<span class="muted">—</span>')
        if f is not None and f.probability is not None:
            forecast_html = format_html(
                '<span class="{}">{}</span> <small>{}%</small>',
                "risk" if f.at_risk else "ok",
                ("⚠ " + at_risk) if f.at_risk else likely,
                f.percent,
            )
        else:
            forecast_html = mark_safe('<span class="muted">—</span>')
        comments = format_html_join(
            "", '<span class="comment">{}</span>', ((c,) for _m, c in line.comments)
        )
        url = base.replace("__tree__", k.extra["tree_code"]).replace("__node__", k.code)
        html = format_html(
            '<tr class="kpi-row status-row-{status}"><td><a href="{url}">{name}</a><br><small class="muted">'
            "<code>{code}</code> · {tree}</small></td>"
            '<td><span class="status status-{status}">{status_label}</span></td><td>{spark}</td>'
            '<td class="num">{actual}</td><td class="num">{target}</td><td class="num">{achievement}</td>'
            '<td class="num">{score}</td><td class="num">{weight}</td><td class="num">{previous}</td>'
            '<td class="num">{year_ago}</td><td>{forecast}</td><td class="comment-cell">{comments}</td></tr>',
            status=k.status,
            url=url,
            name=k.name,
            code=k.code,
            tree=k.extra.get("tree_name", ""),
            status_label=labels.get(k.status, labels["none"]),
            spark=spark_html,
            actual=n.value(k.extra.get("actual")) + unit,
            target=n.value(k.extra.get("target")) + unit,
            achievement=n.pct(k.achievement),
            score=n.number(k.score, 1) if k.score is not None else "—",
            weight=n.number(k.weight, 0 if float(k.weight).is_integer() else 2),
            previous=n.change(line.previous),
            year_ago=n.change(line.year_ago),
            forecast=forecast_html,
            comments=comments or mark_safe('<span class="muted">—</span>'),
        )
        out.append({"kpi": k, "html": html})
    return out


@login_required
@require_POST
def weights(request: HttpRequest, code: str) -> HttpResponse:
    eng = get_visible_or_404(engagements_for(request.user), code=code)
    if not can_manage(request.user):
        raise PermissionDenied
    try:
        services.scoring_weights_set(
            user=request.user,
            engagement=eng,
            weights={p: request.POST.get(p) for p in PERSPECTIVES},
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("The perspective weights were saved; the scores are recomputed.")
        )
    url = reverse("scorecard:engagement", args=[eng.code])
    period = parse_month(request.POST.get("period", ""))
    return redirect(f"{url}?period={period:%Y-%m}" if period else url)
