"""The vendor comparison (`scorecard:comparison`): the same template KPI across engagements, by
achievement or per fee.
"""

from __future__ import annotations

import pandas as pd
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kpi_planner.access import engagements_for, nodes_for
from scorecard import charts, queries
from scorecard.tables import Column, Table
from scorecard.views._common import _csv_or_page, _figure, _grain, _month, _period_ctx


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
    table = _comparison_table(data, value_label)
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


def _comparison_table(data: list[dict], value_label: str) -> Table:
    return Table(
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
