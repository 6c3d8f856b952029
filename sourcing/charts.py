"""The comparison's figure: cost per unit of outcome by proposal, drawn like the scorecard's
(scorecard.charts) with its table (scorecard.tables), built server-side from the ranking."""

from __future__ import annotations

import plotly.graph_objects as go
from django.utils.translation import gettext as _

from scorecard import charts
from scorecard.tables import Column, Table
from sourcing.compare import Ranked


def cost_figure(ranked: list[Ranked], unit: str) -> tuple[go.Figure, Table]:
    """One bar per proposal with a cost per unit of outcome, in rank order. A proposal with an
    unrealistic promise has its own colour, a hatch and the word "unrealistic" on its bar, so
    that it does not rest on colour alone."""
    rows = [r for r in ranked if r.cost_per_outcome is not None]
    x = [f"{r.rank}. {r.vendor}" for r in rows]
    label = _("Cost per unit of outcome (JPY per %(unit)s)") % {"unit": unit or _("unit")}
    unrealistic = _("Unrealistic")
    trace = go.Bar(
        x=x,
        y=[r.cost_per_outcome for r in rows],
        marker={
            "color": [charts.PALETTE[5] if r.unrealistic else charts.PALETTE[0] for r in rows],
            "pattern": {"shape": ["/" if r.unrealistic else "" for r in rows]},
        },
        text=[unrealistic if r.unrealistic else "" for r in rows],
        textposition="outside",
        hovertemplate="%{x}<br>" + label + ": %{y:,.0f}<br>%{text}<extra></extra>",
        name=label,
    )
    fig = charts._figure(
        [trace],
        title=_("Cost per unit of outcome"),
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": x},
        yaxis={"title": {"text": label}, "rangemode": "tozero", "tickformat": ",d"},
        showlegend=False,
    )
    table = Table(
        key="cost",
        title=_("Cost per unit of outcome"),
        columns=[
            Column(_("Rank"), "number"),
            Column(_("Vendor")),
            Column(_("Monthly price"), "yen"),
            Column(label, "yen"),
            Column(_("Realistic")),
        ],
        rows=[
            [r.rank, r.vendor, r.price, r.cost_per_outcome, _("No") if r.unrealistic else _("Yes")]
            for r in ranked
        ],
    )
    return fig, table
