"""What several scorecard pages share: reading the period and grain asked for (?period=, ?grain=),
the period navigation context, a chart's context entry, and answering with the page or one of its
tables as CSV (?csv=<table key>).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from kpi_planner.months import month_add, parse_month
from scorecard import charts, queries
from scorecard.tables import Table


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
