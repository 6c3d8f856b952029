"""A KPI's detail page (`scorecard:kpi`): its monthly values and targets, the forecast of the
year, the history of changes, and their CSV exports.
"""

from __future__ import annotations

import pandas as pd
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from engagements.models import SubmissionStatus
from kpi_planner.access import get_visible_or_404, nodes_for
from kpitree.models import Rationale
from scorecard import charts, queries, services
from scorecard.forecast import AT_RISK_BELOW
from scorecard.tables import Column, Table
from scorecard.views._common import _csv_or_page, _figure


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
    # The latest month with an actual, and whether the KPI is off track then or at risk: what a
    # corrective action opened from this page is about.
    reported = history.monthly[history.monthly["actual"].notna()]
    latest_period = reported.index[-1] if len(reported) else None
    if len(reported) and reported["status"].iloc[-1] == "red":
        alert_status = "red"
    else:
        alert_status = "at_risk" if result is not None and result.at_risk else ""
    ctx = {
        "node": obj,
        "tree": obj.tree,
        "latest_period": latest_period,
        "alert_status": alert_status,
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
