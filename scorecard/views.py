"""Scorecard pages: the SV overview, an engagement's scorecard, a KPI's detail, a tree's
scorecard, funnels, the KPI matrix, the vendor comparison and the monthly reports.

Every queryset comes from kpi_planner.access (hidden objects answer 404); a visible action a role
may not take answers 403. Each table has a CSV export (`?csv=<table key>`).
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import plotly
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from engagements.models import OutsourcingType, Phase, SubmissionStatus
from kpi_planner.access import (
    can_manage,
    engagements_for,
    get_visible_or_404,
    nodes_for,
    trees_for,
)
from kpi_planner.months import month_add, parse_month
from kpi_planner.numbers import Numbers
from kpitree.models import Rationale
from scorecard import charts, queries, reports, scoring, services
from scorecard.forecast import AT_RISK_BELOW
from scorecard.funnel import funnel_factors, funnel_steps
from scorecard.scoring import PERSPECTIVES, Thresholds
from scorecard.tables import Column, Table

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
ATTENTION_SHOWN = 15  # the summary at the top; every KPI is listed below, off-track first
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


# -- helpers ----------------------------------------------------------------------------------------


def _grain(request: HttpRequest) -> str:
    grain = request.GET.get("grain", "month")
    return grain if grain in queries.GRAINS else "month"


def _month(request: HttpRequest, nodes) -> tuple[dt.date, bool]:
    """The month asked for (?period=YYYY-MM), else the last month with actuals; and whether the
    request's period was unreadable (then the page says so and shows the default)."""
    raw = request.GET.get("period", "")
    month = parse_month(raw) if raw else None
    if month is not None:
        return month, False
    return queries.latest_month(nodes), bool(raw)


def _csv_or_page(
    request: HttpRequest,
    template: str,
    ctx: dict,
    tables: list[Table],
    filename: str,
    csv_only: dict[str, Callable[[], Table]] | None = None,
) -> HttpResponse:
    """The page, or one of its tables as CSV (?csv=<key>). Tables only offered as CSV (the page
    shows the same data its own way) are built only when asked for."""
    wanted = request.GET.get("csv")
    if wanted:
        for table in tables:
            if table.key == wanted:
                return table.csv_response(f"{filename}-{table.key}.csv")
        if csv_only and wanted in csv_only:
            return csv_only[wanted]().csv_response(f"{filename}-{wanted}.csv")
        raise Http404
    ctx["tables"] = {t.key: t for t in tables}
    return render(request, template, ctx)


def _figure(key: str, fig, table: Table) -> dict:
    return {"id": f"fig-{key}", "json": charts.figure_json(fig), "table": table}


def _period_ctx(request: HttpRequest, month: dt.date, grain: str, bad_period: bool) -> dict:
    return {
        "month": month,
        "grain": grain,
        "grains": [("month", _("Month")), ("quarter", _("Quarter")), ("year", _("Year"))],
        "bad_period": bad_period,
        "prev_month": month_add(month, -1),
        "next_month": month_add(month, 1),
    }


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


# -- SV overview --------------------------------------------------------------------------------------


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


# -- engagement scorecard -----------------------------------------------------------------------------


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


# -- KPI detail ------------------------------------------------------------------------------------


@login_required
@require_GET
def kpi(request: HttpRequest, tree: str, node: str) -> HttpResponse:
    obj = get_visible_or_404(
        nodes_for(request.user).select_related("tree", "engagement__vendor", "parent"),
        tree__code=tree,
        code=node,
    )
    history = queries.kpi_history(obj)
    node_row = {
        "id": obj.pk,
        "time_aggregation": obj.time_aggregation,
        "direction": obj.direction,
        "tree__fiscal_year_start": obj.tree.fiscal_year_start,
    }
    years = {p: r["target"] for p, r in history.year_rollups.items()}
    result = services.forecast_of(node_row, history.monthly[["actual", "target"]], years)
    forecast_frame = None
    if result is not None:
        forecast_frame = pd.DataFrame(
            {"mean": result.mean, "lower": result.lower, "upper": result.upper}, index=result.months
        )
    fig = charts.forecast_figure(history.monthly, forecast_frame, name=obj.name, unit=obj.unit)
    values = _values_table(history)
    tables = [values, _audit_table(history)]
    if forecast_frame is not None:
        tables.append(
            Table(
                "forecast",
                _("Forecast"),
                [
                    Column(_("Month"), "month"),
                    Column(_("Forecast"), "number"),
                    Column(_("Low (10%)"), "number"),
                    Column(_("High (90%)"), "number"),
                ],
                [[m, r["mean"], r["lower"], r["upper"]] for m, r in forecast_frame.iterrows()],
            )
        )
    ctx = {
        "node": obj,
        "tree": obj.tree,
        "history": history,
        "forecast": result,
        "at_risk_pct": int(AT_RISK_BELOW * 100),
        "figure": _figure("forecast", fig, values),
        "year_target": years.get(result.period) if result and result.period is not None else None,
    }
    return _csv_or_page(request, "scorecard/kpi.html", ctx, tables, f"{obj.tree.code}-{obj.code}")


def _values_table(history: queries.KpiHistory) -> Table:
    actuals = {a.period: a for a in history.actuals}
    rows = []
    for m, r in history.monthly.iterrows():
        a = actuals.get(m)
        t = history.targets.get(m)
        rows.append(
            [
                m,
                r["actual"],
                r["target"],
                r["achievement"],
                r["status"],
                a.comment if a else "",
                SubmissionStatus(a.status).label if a else "",
                (a.updated_by.display_name if a and a.updated_by else ""),
                t.get_rationale_display() if t and t.rationale else "",
            ]
        )
    columns = [
        Column(_("Month"), "month"),
        Column(_("Actual"), "number"),
        Column(_("Target"), "number"),
        Column(_("Achievement"), "pct"),
        Column(_("Status"), "status"),
        Column(_("Comment")),
        Column(_("Approval")),
        Column(_("Entered by")),
        Column(_("Target rationale")),
    ]
    return Table("values", _("Values by month"), columns, rows)


def _audit_table(history: queries.KpiHistory) -> Table:
    columns = [
        Column(_("When"), "datetime"),
        Column(_("What")),
        Column(_("Month"), "month"),
        Column(_("Old value"), "number"),
        Column(_("New value"), "number"),
        Column(_("Old comment / rationale")),
        Column(_("New comment / rationale")),
        Column(_("By")),
        Column(_("Channel")),
    ]
    rationale = dict(Rationale.choices)

    def text(kind: str, value: str) -> str:
        # A target's audit text is its rationale code: show its label.
        return str(rationale.get(value, value)) if kind == "target" else value

    rows = [
        [
            a.at,
            a.get_kind_display(),
            a.period,
            a.old_value,
            a.new_value,
            text(a.kind, a.old_text),
            text(a.kind, a.new_text),
            a.user.display_name if a.user else "",
            a.get_channel_display(),
        ]
        for a in history.audit
    ]
    return Table("audit", _("History of changes"), columns, rows)


# -- tree scorecard, funnel, matrix -------------------------------------------------------------


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
    table = _matrix_table(card.kpis())
    fig = charts.matrix_figure(_matrix_frame(card.kpis()), thresholds=card.thresholds)
    ctx = {
        **_period_ctx(request, month, grain, bad),
        "engagement": eng,
        "figure": _figure("matrix", fig, table),
    }
    return _csv_or_page(
        request, "scorecard/matrix.html", ctx, [table], f"{eng.code}-matrix-{month:%Y-%m}"
    )


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


# -- vendor comparison ---------------------------------------------------------------------------------


@login_required
@require_GET
def comparison(request: HttpRequest) -> HttpResponse:
    visible = engagements_for(request.user)
    month, bad = _month(
        request, nodes_for(request.user).filter(engagement__in=visible).exclude(template_code="")
    )
    grain = _grain(request)
    measure = request.GET.get("measure", "achievement")
    measure = measure if measure in ("achievement", "per_fee") else "achievement"
    rows = queries.comparison_rows(request.user, month, grain)
    templates = sorted({(r["template_code"], r["name"]) for r in rows})
    template_names: dict[str, str] = {}
    for code, name in templates:
        template_names.setdefault(code, name)
    chosen = [c for c in request.GET.getlist("kpi") if c in template_names] or list(template_names)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    data = []
    for r in rows:
        if r["template_code"] not in chosen:
            continue
        fee = (r["engagement__monthly_fee"] or 0) * months
        per_fee = None
        if (
            measure == "per_fee"
            and r["actual"] is not None
            and fee
            and r["unit"] != "%"
            and r["time_aggregation"] == "sum"
        ):
            per_fee = r["actual"] / fee * 100_000
        value = r["achievement"] if measure == "achievement" else per_fee
        data.append(
            {
                "kpi": template_names[r["template_code"]],
                "template": r["template_code"],
                "engagement": f"{r['engagement__code']} {r['engagement__vendor__name']}",
                "engagement_code": r["engagement__code"],
                "value": value,
                "actual": r["actual"],
                "target": r["target"],
                "achievement": r["achievement"],
                "status": r["status"],
                "unit": r["unit"],
                "fee": fee,
            }
        )
    value_label = _("Achievement (%)") if measure == "achievement" else _("Per 100,000 yen of fees")
    frame = pd.DataFrame(
        data,
        columns=[
            "kpi",
            "template",
            "engagement",
            "engagement_code",
            "value",
            "actual",
            "target",
            "achievement",
            "status",
            "unit",
            "fee",
        ],
    )
    frame["value"] = frame["value"].astype(float)
    table = Table(
        "comparison",
        _("Vendor comparison"),
        [
            Column(_("KPI")),
            Column(_("Template code")),
            Column(_("Engagement")),
            Column(_("Actual"), "number"),
            Column(_("Target"), "number"),
            Column(_("Unit")),
            Column(_("Achievement"), "pct"),
            Column(_("Status"), "status"),
            Column(_("Fees in the period"), "yen"),
            Column(value_label, "number1"),
        ],
        [
            [
                d["kpi"],
                d["template"],
                d["engagement"],
                d["actual"],
                d["target"],
                d["unit"],
                d["achievement"],
                d["status"],
                d["fee"],
                d["value"],
            ]
            for d in data
        ],
    )
    fig = charts.comparison_figure(frame, value_label=value_label)
    ctx = {
        **_period_ctx(request, month, grain, bad),
        "measure": measure,
        "templates": list(template_names.items()),
        "chosen": chosen,
        "figure": _figure("comparison", fig, table) if data else None,
    }
    return _csv_or_page(
        request, "scorecard/comparison.html", ctx, [table], f"comparison-{month:%Y-%m}"
    )


# -- reports and plotly.js ----------------------------------------------------------------------------


@login_required
@require_GET
def report(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    eng = get_visible_or_404(
        engagements_for(request.user).select_related("scoring", "vendor"), code=code
    )
    month, _bad = _month(request, nodes_for(request.user).filter(engagement=eng))
    language = getattr(request, "LANGUAGE_CODE", "ja")
    if fmt == "xlsx":
        name, content, mimetype = reports.excel_report(eng, month, language)
    elif fmt == "pdf":
        name, content, mimetype = reports.pdf_report(eng, month, language)
    else:
        raise Http404
    response = HttpResponse(content, content_type=mimetype)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@functools.cache
def _plotly_gzip() -> bytes:
    return gzip.compress(PLOTLY_JS.read_bytes(), compresslevel=6, mtime=0)


@require_GET
def plotly_js(request: HttpRequest, version: str) -> HttpResponse:
    """plotly.js from the installed plotly package (no CDN): the URL carries the version, so it
    is cached for a year; gzip when the browser accepts it."""
    if version != plotly.__version__:
        raise Http404
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(_plotly_gzip(), content_type="text/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(
            PLOTLY_JS.read_bytes(), content_type="text/javascript; charset=utf-8"
        )
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Vary"] = "Accept-Encoding"
    return response
