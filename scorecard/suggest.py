"""Suggested targets: for a KPI and the months of its plan, a target and the reasoning behind it,
in one sentence with the numbers. Pure: no database (scorecard/suggest_queries.py loads).

Three sources, each used when it exists:
- **past results**: the KPI's monthly actuals, forecast by the scorecard's own models
  (`scorecard.forecast.forecast_kpi`: exponential smoothing, Holt's damped trend from 12 months)
  — the forecast mean of the month; the sentence shows the last PAST_MONTHS actuals as their mean
  ± their standard deviation;
- **the benchmark** of the KPI (the catalogue's, kept on the node);
- **the plan**: the target of the nearest ancestor that has one for the month (the parent, else
  up to the KGI), back-solved through the tree's formulas for this KPI with every other input at
  its latest actual (`kpitree.whatif.goal_seek`, the rollup engine's evaluation): what this KPI
  must be for the plan to hold "at current rates".

Rule for the suggested value: the back-solved value when an ancestor has a target (and it can be
reached: it is what the plan needs), else the forecast mean of the month, else the benchmark;
else no suggestion. Its rationale (kpitree.models.Rationale) is "benchmark" when it is the
benchmark, else "past_results" (the back-solve, too, rests on the latest actuals). The sentence
always shows all the sources that exist.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kpi_planner.errors import ServiceError
from kpi_planner.months import month_range
from kpi_planner.numbers import Numbers
from kpitree import whatif
from kpitree.models import Rationale
from scorecard import forecast

PAST_MONTHS = 6
FROM_PLAN, FROM_FORECAST, FROM_BENCHMARK = "plan", "forecast", "benchmark"


@dataclass(frozen=True)
class Need:
    """What an ancestor's target needs of this KPI in a month (the back-solve)."""

    name: str  # the ancestor's name
    unit: str  # its unit
    goal: float  # its target in the month
    value: float | None  # this KPI's value that reaches it (else the best in range)
    reachable: bool


@dataclass(frozen=True)
class Past:
    """The last months of actuals: how many, their mean and standard deviation."""

    count: int
    mean: float
    spread: float


@dataclass(frozen=True)
class Suggestion:
    period: dt.date
    value: float | None
    source: str  # FROM_PLAN, FROM_FORECAST, FROM_BENCHMARK, or "" (no suggestion)
    forecast: float | None
    past: Past | None
    benchmark: float | None
    need: Need | None
    unit: str = ""

    @property
    def rationale(self) -> str:
        return Rationale.BENCHMARK if self.source == FROM_BENCHMARK else Rationale.PAST_RESULTS

    def parts(self, numbers: Numbers | None = None) -> list[str]:
        """The sentence's parts, in the reader's language (one per source that exists)."""
        n = numbers or Numbers()
        out = []
        if self.past is not None:
            out.append(
                ngettext(
                    "past %(n)s month %(mean)s ± %(spread)s",
                    "past %(n)s months %(mean)s ± %(spread)s",
                    self.past.count,
                )
                % {
                    "n": self.past.count,
                    "mean": n.value(self.past.mean, self.unit),
                    "spread": n.value(self.past.spread, self.unit),
                }
            )
        if self.benchmark is not None:
            out.append(_("benchmark %(value)s") % {"value": n.value(self.benchmark, self.unit)})
        need = self.need
        if need is not None:
            values = {"name": need.name, "goal": n.value(need.goal, need.unit)}
            if need.reachable:
                values["value"] = n.value(need.value, self.unit)
                out.append(
                    _("the %(name)s target of %(goal)s needs %(value)s at current rates") % values
                )
            else:
                out.append(
                    _("the %(name)s target of %(goal)s is out of reach at current rates") % values
                )
        return out

    def sentence(self, numbers: Numbers | None = None) -> str:
        return _("; ").join(self.parts(numbers))


def past_of(actual: pd.Series, months: int = PAST_MONTHS) -> Past | None:
    """The last `months` reported actuals: their mean ± standard deviation (sample; 0 for one)."""
    present = actual.dropna().astype(float).tail(months)
    if present.empty:
        return None
    spread = float(present.std(ddof=1)) if len(present) > 1 else 0.0
    return Past(len(present), float(present.mean()), spread)


def forecast_means(
    actual: pd.Series,
    until: dt.date,
    *,
    time_aggregation: str = "sum",
    direction: str = "up",
    fiscal_year_start: int = 4,
) -> dict[dt.date, float]:
    """The scorecard's forecast mean of each month after the last actual up to `until`; empty
    with fewer than forecast.MIN_MONTHS actuals."""
    present = actual.dropna()
    if present.empty:
        return {}
    months = month_range(present.index[0], max(until, present.index[-1]))
    frame = pd.DataFrame(
        {"actual": actual.reindex(months).astype(float), "target": np.nan},
        index=pd.Index(months, name="period"),
    )
    result = forecast.forecast_kpi(
        frame,
        time_aggregation=time_aggregation,
        direction=direction,
        fiscal_year_start=fiscal_year_start,
    )
    if result is None:
        return {}
    return {m: float(v) for m, v in zip(result.months, result.mean, strict=True)}


def back_solve(
    scenario: whatif.Scenario, *, leaf: str, node: str, goal: float, name: str, unit: str
) -> Need | None:
    """What `leaf` must be for `node` to reach `goal`, the other inputs as in `scenario`; None
    when it cannot be asked (a computed KPI, no value to scale, a node it does not lead to)."""
    try:
        r = whatif.goal_seek(scenario, node=node, goal=goal, leaf=leaf)
    except ServiceError:
        return None
    if r.value is None or not math.isfinite(r.value):
        return None
    return Need(name=name, unit=unit, goal=goal, value=r.value, reachable=r.reachable)


def suggest(
    months: Sequence[dt.date],
    actual: pd.Series,
    *,
    benchmark: float | None = None,
    needs: Mapping[dt.date, Need] | None = None,
    unit: str = "",
    time_aggregation: str = "sum",
    direction: str = "up",
    fiscal_year_start: int = 4,
) -> list[Suggestion]:
    """A suggestion per month (see the module's docstring for the rule). `actual`: the KPI's
    monthly actuals indexed by month (NaN or absent where none)."""
    actual = actual.astype(float).sort_index()
    means = (
        forecast_means(
            actual,
            max(months),
            time_aggregation=time_aggregation,
            direction=direction,
            fiscal_year_start=fiscal_year_start,
        )
        if months
        else {}
    )
    past = past_of(actual)
    out = []
    for m in months:
        need = (needs or {}).get(m)
        mean = means.get(m)
        if need is not None and need.reachable and need.value is not None:
            value, source = need.value, FROM_PLAN
        elif mean is not None:
            value, source = mean, FROM_FORECAST
        elif benchmark is not None:
            value, source = benchmark, FROM_BENCHMARK
        else:
            value, source = None, ""
        out.append(Suggestion(m, value, source, mean, past, benchmark, need, unit))
    return out
