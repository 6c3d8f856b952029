"""The money pages' figures, drawn like the scorecard's (scorecard.charts) with a table beside
each (scorecard.tables), built server-side from plain rows."""

from __future__ import annotations

import plotly.graph_objects as go
from django.utils.translation import gettext as _

from money.queries import ReturnRow
from money.services.statements import BacktestRow
from scorecard import charts
from scorecard.tables import Column, Table


def returns_figure(rows: list[ReturnRow]) -> tuple[go.Figure, Table]:
    """Cost and gain by month (bars, yen) with ROI (line, %, right axis)."""
    x = [charts.month_label(r.period) for r in rows if r.period]
    cost = [r.figures.cost for r in rows]
    gain = [r.figures.gain for r in rows]
    roi = [None if r.figures.roi is None else r.figures.roi * 100 for r in rows]
    traces = [
        go.Bar(x=x, y=cost, name=_("Cost"), marker={"color": charts.PALETTE[1]}),
        go.Bar(x=x, y=gain, name=_("Gain"), marker={"color": charts.PALETTE[0]}),
        go.Scatter(
            x=x,
            y=roi,
            name=_("ROI (%)"),
            yaxis="y2",
            mode="lines+markers",
            line={"color": "#1f2933", "width": 2},
            connectgaps=False,
        ),
    ]
    fig = charts._figure(
        traces,
        title=_("Cost, gain and ROI by month"),
        xaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": x,
            "automargin": True,
        },
        yaxis={"title": {"text": _("JPY")}, "rangemode": "tozero", "tickformat": ",d"},
        yaxis2={
            "title": {"text": _("ROI (%)")},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
        barmode="group",
    )
    table = Table(
        key="returns",
        title=_("Cost, gain and ROI by month"),
        columns=[
            Column(_("Month"), "month"),
            Column(_("Cost"), "yen"),
            Column(_("Gain"), "yen"),
            Column(_("ROI (%)"), "number1"),
        ],
        rows=[[r.period, c, g, v] for r, c, g, v in zip(rows, cost, gain, roi, strict=True)],
    )
    return fig, table


def backtest_figure(rows: list[BacktestRow]) -> tuple[go.Figure, Table]:
    """The adjustment of each month under the rules in force and under the draft."""
    x = [charts.month_label(r.period) for r in rows]
    now = [r.in_force.adjustment if r.in_force else None for r in rows]
    draft = [r.draft.adjustment if r.draft else None for r in rows]
    traces = [
        go.Bar(x=x, y=now, name=_("Rules in force"), marker={"color": charts.PALETTE[1]}),
        go.Bar(x=x, y=draft, name=_("This rule set"), marker={"color": charts.PALETTE[0]}),
    ]
    fig = charts._figure(
        traces,
        title=_("Adjustment by month: the rules in force and this rule set"),
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": x},
        yaxis={"title": {"text": _("JPY")}, "tickformat": ",d", "zeroline": True},
        barmode="group",
    )
    table = Table(
        key="backtest",
        title=_("Adjustment by month"),
        columns=[
            Column(_("Month"), "month"),
            Column(_("Rules in force"), "yen"),
            Column(_("This rule set"), "yen"),
        ],
        rows=[[r.period, a, b] for r, a, b in zip(rows, now, draft, strict=True)],
    )
    return fig, table
