"""Plotly figures built on the server from pandas frames; the page only draws them.

Readable in Japanese (system CJK fonts, month labels such as 2026年4月, translated titles and
hover texts) and colour-blind safe: statuses use the Okabe–Ito colours of static/css/app.css and
series use the Okabe–Ito palette; where colour carries a meaning a shape or a text carries it too.
Every figure has a table view on its page (built from the same frame by the view).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from scorecard.scoring import DEFAULT_THRESHOLDS, PERSPECTIVES, Thresholds

FONT = (
    'system-ui, -apple-system, "Hiragino Sans", "Noto Sans CJK JP", "Yu Gothic", Meiryo, sans-serif'
)
STATUS_COLOURS = {"green": "#009e73", "amber": "#e69f00", "red": "#d55e00", "none": "#999999"}
STATUS_SYMBOLS = {"green": "circle", "amber": "diamond", "red": "x", "none": "circle-open"}
# Okabe–Ito, without yellow (too light on white) — blue first.
PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000"]
PERSPECTIVE_SYMBOLS = {
    "financial": "circle",
    "customer": "square",
    "process": "diamond",
    "learning": "triangle-up",
}


def status_labels() -> dict[str, str]:
    return {
        "green": _("On track"),
        "amber": _("At risk"),
        "red": _("Off track"),
        "none": _("No data"),
    }


def perspective_labels() -> dict[str, str]:
    return {
        "financial": _("Financial"),
        "customer": _("Customer"),
        "process": _("Internal process"),
        "learning": _("Learning and growth"),
    }


def month_label(month: dt.date) -> str:
    """2026年4月 in Japanese, Apr 2026 otherwise (short enough for an axis)."""
    if (get_language() or "ja").startswith("ja"):
        return f"{month.year}年{month.month}月"
    return f"{month:%b %Y}"


def _clean(values: Sequence) -> list[Any]:
    """Plain floats with None for missing (plotly draws a gap), no numpy scalars."""
    out: list[Any] = []  # float or None
    for v in values:
        if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
            out.append(None)
        else:
            out.append(float(v))
    return out


AXIS = {
    "showline": True,
    "linecolor": "#d9dee5",
    "gridcolor": "#eef1f5",
    "zerolinecolor": "#d9dee5",
}


def _figure(
    traces: list,
    *,
    title: str,
    height: int = 360,
    xaxis: dict | None = None,
    yaxis: dict | None = None,
    **extra,
) -> go.Figure:
    """One figure from its traces and a layout built as a plain dict: plotly's update_* and
    add_* helpers re-validate the whole figure on every call, which costs more than the page."""
    layout = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT, "size": 13, "color": "#1f2933"},
        "hoverlabel": {"font": {"family": FONT}},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "separators": ".,",
        "xaxis": {**AXIS, **(xaxis or {})},
        "yaxis": {**AXIS, **(yaxis or {})},
        **extra,
    }
    return go.Figure(data=traces, layout=layout)


def _hline(y: float, colour: str, label: str | None = None) -> tuple[dict, dict | None]:
    """A dotted horizontal line across the plot (shape) and its label (annotation)."""
    shape = {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": y,
        "y1": y,
        "line": {"color": colour, "dash": "dot", "width": 1},
    }
    note = None
    if label:
        note = {
            "xref": "paper",
            "x": 0,
            "yref": "y",
            "y": y,
            "text": label,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "font": {"size": 11, "color": "#5f6b7a"},
        }
    return shape, note


def _threshold_lines(thresholds: Thresholds) -> tuple[list[dict], list[dict]]:
    shapes: list[dict] = []
    notes: list[dict] = []
    for value, colour, label in (
        (
            thresholds.green,
            STATUS_COLOURS["green"],
            _("On track from %(value)s") % {"value": f"{thresholds.green:g}"},
        ),
        (
            thresholds.amber,
            STATUS_COLOURS["amber"],
            _("At risk from %(value)s") % {"value": f"{thresholds.amber:g}"},
        ),
    ):
        shape, note = _hline(value, colour, label)
        shapes.append(shape)
        if note is not None:  # always, as there is a label
            notes.append(note)
    return shapes, notes


def figure_json(fig: go.Figure) -> SafeString:
    """The figure as JSON that is safe inside <script type="application/json">."""
    text = fig.to_json(validate=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return mark_safe(text)


# -- figures ------------------------------------------------------------------------------------


def trend_figure(
    frame: pd.DataFrame, *, thresholds: Thresholds = DEFAULT_THRESHOLDS, title: str | None = None
) -> go.Figure:
    """Scores by month: the overall score and each perspective's (frame: index month, columns
    overall and the perspectives; NaN where there is no score)."""
    x = [month_label(m) for m in frame.index]
    names = {"overall": _("Overall"), **perspective_labels()}
    dashes = {
        "overall": "solid",
        "financial": "solid",
        "customer": "dash",
        "process": "dot",
        "learning": "dashdot",
    }
    traces = [
        go.Scatter(
            x=x,
            y=_clean(frame[column]),
            name=names[column],
            mode="lines+markers",
            line={
                "color": PALETTE[i % len(PALETTE)],
                "width": 3 if column == "overall" else 1.5,
                "dash": dashes[column],
            },
            connectgaps=False,
            hovertemplate="%{x}<br>" + names[column] + ": %{y:.1f}<extra></extra>",
        )
        for i, column in enumerate(["overall", *PERSPECTIVES])
        if column in frame
    ]
    shapes, notes = _threshold_lines(thresholds)
    return _figure(
        traces,
        title=title or _("Scores over the last 12 months"),
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": x},
        yaxis={"title": {"text": _("Score")}, "rangemode": "tozero"},
        shapes=shapes,
        annotations=notes,
    )


def forecast_figure(
    monthly: pd.DataFrame,
    forecast: pd.DataFrame | None,
    *,
    name: str,
    unit: str = "",
) -> go.Figure:
    """Actual against target by month, with the forecast to the end of the plan and its 80 %
    band (monthly: index month, actual, target; forecast: index month, mean, lower, upper)."""
    x = [month_label(m) for m in monthly.index]
    suffix = f" ({unit})" if unit else ""
    traces = []
    if forecast is not None and not forecast.empty:
        fx = [month_label(m) for m in forecast.index]
        traces.append(
            go.Scatter(
                x=fx + fx[::-1],
                y=_clean(forecast["upper"]) + _clean(forecast["lower"])[::-1],
                fill="toself",
                mode="lines",
                fillcolor="rgba(86,180,233,0.25)",
                line={"width": 0},
                name=_("Forecast range (80%)"),
                hoverinfo="skip",
            )
        )
        traces.append(
            go.Scatter(
                x=fx,
                y=_clean(forecast["mean"]),
                name=_("Forecast"),
                mode="lines+markers",
                line={"color": "#0072b2", "dash": "dash"},
                marker={"symbol": "circle-open"},
                customdata=np.column_stack(
                    [_clean(forecast["lower"]), _clean(forecast["upper"])]
                ).tolist(),
                hovertemplate="%{x}<br>"
                + _("Forecast")
                + ": %{y:,.4~g}<br>"
                + _("Range")
                + ": %{customdata[0]:,.4~g} – %{customdata[1]:,.4~g}<extra></extra>",
            )
        )
    traces.append(
        go.Scatter(
            x=x,
            y=_clean(monthly["target"]),
            name=_("Target"),
            mode="lines",
            line={"color": "#5f6b7a", "dash": "dot", "width": 2},
            hovertemplate="%{x}<br>" + _("Target") + ": %{y:,.4~g}<extra></extra>",
        )
    )
    traces.append(
        go.Scatter(
            x=x,
            y=_clean(monthly["actual"]),
            name=_("Actual"),
            mode="lines+markers",
            line={"color": "#0072b2", "width": 3},
            hovertemplate="%{x}<br>" + _("Actual") + ": %{y:,.4~g}<extra></extra>",
        )
    )
    return _figure(
        traces,
        title=_("%(name)s: actual, target and forecast") % {"name": name},
        height=400,
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": x},
        yaxis={"title": {"text": name + suffix}, "rangemode": "tozero"},
    )


def funnel_figure(steps: pd.DataFrame, *, title: str) -> go.Figure:
    """Left: the volume reaching each stage (actual, target in the hover); right: each step's
    conversion rate against its target (steps: stage, count, count_target, rate, rate_target,
    status — the status of the rate)."""
    labels = list(steps["stage"])
    colours = [STATUS_COLOURS.get(s, STATUS_COLOURS["none"]) for s in steps["status"]]
    colours[0] = "#0072b2"  # the volume itself has no conversion rate
    status_text = [status_labels().get(s, "") for s in steps["status"]]
    status_text[0] = ""
    rates = steps.iloc[1:]
    traces = [
        go.Funnel(
            y=labels,
            x=_clean(steps["count"]),
            name=_("Actual"),
            marker={"color": colours},
            connector={"fillcolor": "#e2e8f0", "line": {"width": 0}},
            customdata=np.column_stack([_clean(steps["count_target"])]).tolist(),
            textinfo="value",
            texttemplate="%{value:,.0f}",
            textposition="auto",
            hovertemplate="%{y}<br>"
            + _("Actual")
            + ": %{x:,.1f}<br>"
            + _("Target")
            + ": %{customdata[0]:,.1f}<extra></extra>",
            showlegend=False,
        ),
        go.Bar(
            y=list(rates["stage"]),
            x=_clean(rates["rate_target"]),
            xaxis="x2",
            yaxis="y2",
            orientation="h",
            name=_("Target rate"),
            offsetgroup="target",
            width=0.35,
            marker={"color": "rgba(153,153,153,0.45)", "line": {"color": "#5f6b7a", "width": 1}},
            texttemplate="%{x:.1f}%",
            textposition="outside",
            hovertemplate="%{y}<br>" + _("Target rate") + ": %{x:.1f}%<extra></extra>",
        ),
        go.Bar(
            y=list(rates["stage"]),
            x=_clean(rates["rate"]),
            xaxis="x2",
            yaxis="y2",
            orientation="h",
            name=_("Actual rate"),
            offsetgroup="actual",
            width=0.35,
            marker={"color": colours[1:]},
            text=status_text[1:],
            texttemplate="%{x:.1f}% %{text}",
            textposition="outside",
            hovertemplate="%{y}<br>" + _("Actual rate") + ": %{x:.1f}%<br>%{text}<extra></extra>",
        ),
    ]
    top = max(
        [v for v in _clean(rates["rate"]) + _clean(rates["rate_target"]) if v is not None] or [100]
    )
    category = {"categoryorder": "array", "categoryarray": labels, "autorange": "reversed"}
    titles = [
        {
            "text": text,
            "xref": "paper",
            "yref": "paper",
            "x": x,
            "y": 1.0,
            "xanchor": "center",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 12},
        }
        for text, x in (
            (_("Volume at each stage"), 0.28),
            (_("Conversion rate against target (%)"), 0.8),
        )
    ]
    return _figure(
        traces,
        title=title,
        height=140 + 70 * len(labels),
        barmode="group",
        xaxis={"domain": [0, 0.56]},
        yaxis=category,
        xaxis2={**AXIS, "domain": [0.6, 1], "anchor": "y2", "range": [0, top * 1.45]},
        yaxis2={**AXIS, **category, "anchor": "x2", "matches": "y", "showticklabels": False},
        annotations=titles,
    )


def matrix_figure(
    frame: pd.DataFrame, *, thresholds: Thresholds = DEFAULT_THRESHOLDS, title: str | None = None
) -> go.Figure:
    """KPI matrix: importance (1–5) against achievement (%), one marker per KPI coloured and
    shaped by status (frame: name, achievement, importance, status, perspective)."""
    shown = frame.dropna(subset=["achievement"]).copy()
    shown["x"] = shown["achievement"].clip(upper=200)
    shown = shown.sort_values(["importance", "x"], kind="stable")
    order = shown.groupby("importance").cumcount()
    # KPIs of the same importance and similar achievement would hide each other: spread them a
    # little vertically, and let neighbours take turns above and below their marker.
    shown["y"] = shown["importance"].astype(float) + (order % 5 - 2) * 0.06
    shown["pos"] = np.where(order % 2 == 0, "top center", "bottom center")
    labels = status_labels()
    traces = []
    for status in ("red", "amber", "green"):
        part = shown[shown["status"] == status]
        if part.empty:
            continue
        traces.append(
            go.Scatter(
                x=_clean(part["x"]),
                y=_clean(part["y"]),
                mode="markers+text",
                name=labels[status],
                text=list(part["name"]),
                textposition=list(part["pos"]),
                textfont={"size": 11},
                marker={
                    "color": STATUS_COLOURS[status],
                    "size": 13,
                    "symbol": STATUS_SYMBOLS[status],
                    "line": {"width": 1, "color": "#ffffff"},
                },
                customdata=np.column_stack(
                    [_clean(part["achievement"]), list(part["importance"])]
                ).tolist(),
                hovertemplate="%{text}<br>"
                + _("Achievement")
                + ": %{customdata[0]:.1f}%<br>"
                + _("Importance")
                + ": %{customdata[1]}<extra></extra>",
            )
        )
    green = {
        "type": "line",
        "xref": "x",
        "x0": thresholds.green,
        "x1": thresholds.green,
        "yref": "paper",
        "y0": 0,
        "y1": 1,
        "line": {"color": STATUS_COLOURS["green"], "dash": "dot", "width": 1},
    }
    middle, _note = _hline(3.5, "#999999")
    focus = {
        "x": 0,
        "y": 5.45,
        "xref": "x",
        "yref": "y",
        "xanchor": "left",
        "showarrow": False,
        "text": _("Focus here: important and behind target"),
        "font": {"size": 12, "color": STATUS_COLOURS["red"]},
    }
    right = max(160.0, float(shown["x"].max()) + 10) if not shown.empty else 160.0
    return _figure(
        traces,
        title=title or _("KPI matrix: importance × achievement"),
        height=440,
        xaxis={"title": {"text": _("Achievement (%)")}, "range": [0, right]},
        yaxis={
            "title": {"text": _("Importance")},
            "range": [0.5, 5.6],
            "tickvals": [1, 2, 3, 4, 5],
        },
        shapes=[green, middle],
        annotations=[focus],
    )


def comparison_figure(
    frame: pd.DataFrame, *, value_label: str, title: str | None = None
) -> go.Figure:
    """Engagements side by side on shared KPIs (frame: kpi, engagement, value, status)."""
    kpis = list(dict.fromkeys(frame["kpi"]))
    patterns = ["", "/", "x", ".", "-", "+", "\\"]
    traces = []
    for i, (engagement, part) in enumerate(frame.groupby("engagement", sort=False)):
        values = part.set_index("kpi")["value"].reindex(kpis)
        statuses = part.set_index("kpi")["status"].reindex(kpis).fillna("none")
        traces.append(
            go.Bar(
                x=kpis,
                y=_clean(values),
                name=str(engagement),
                # A pattern as well as a colour, so that bars stay apart without colour vision.
                marker={
                    "color": PALETTE[i % len(PALETTE)],
                    "pattern": {"shape": patterns[i % len(patterns)]},
                },
                text=list(statuses.map(status_labels())),
                textposition="none",
                hovertemplate="%{x}<br>"
                + str(engagement)
                + "<br>"
                + value_label
                + ": %{y:,.1f}<br>%{text}<extra></extra>",
            )
        )
    return _figure(
        traces,
        title=title or _("Vendor comparison"),
        height=420,
        barmode="group",
        yaxis={"title": {"text": value_label}, "rangemode": "tozero"},
    )


def status_figure(counts: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """How many engagements are on track, per perspective and overall (counts: index
    overall + perspectives, columns statuses)."""
    names = {"overall": _("Overall"), **perspective_labels()}
    labels = status_labels()
    y = [names[i] for i in counts.index]
    traces = [
        go.Bar(
            y=y,
            x=[int(v) for v in counts[status]],
            name=labels[status],
            orientation="h",
            marker={"color": STATUS_COLOURS[status]},
            text=[int(v) if v else "" for v in counts[status]],
            textposition="inside",
            hovertemplate="%{y}<br>" + labels[status] + ": %{x}<extra></extra>",
        )
        for status in ("green", "amber", "red", "none")
    ]
    small = counts.to_numpy().sum(axis=1).max(initial=0) <= 10
    return _figure(
        traces,
        title=title or _("Engagements by status"),
        height=260,
        barmode="stack",
        legend={"orientation": "h", "y": -0.25, "x": 0, "traceorder": "normal"},
        xaxis={"title": {"text": _("Engagements")}, **({"dtick": 1} if small else {})},
        yaxis={"autorange": "reversed"},
    )
