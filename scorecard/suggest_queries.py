"""Suggested targets of a KPI for a user: its actuals, benchmark and the targets above it loaded
from the database; the suggesting done by scorecard/suggest.py.

- The months: those of the plan after the KPI's last actual (all of them when it has none), or
  the caller's.
- The back-solve: the whole tree is evaluated (a KPI's value depends on its hidden siblings, as
  in the rollup) with every input at its latest actual; the target it is solved for is the one of
  the nearest ancestor the user may see that has a target (set, not derived) for the month.
Nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from kpi_planner.access import nodes_for
from kpi_planner.months import month_range
from kpitree import analysis, whatif
from kpitree.models import Actual, Grain, Node, Rollup, RollupRule, Target
from scorecard import suggest


def _latest_actuals(node: Node) -> dict[str, float]:
    """Each node's latest actual in the tree (per node, its latest month)."""
    latest: dict[str, float] = {}
    rows = (
        Actual.objects.filter(node__tree_id=node.tree_id, node__archived_at__isnull=True)
        .order_by("node__code", "period")
        .values_list("node__code", "value")
    )
    for code, value in rows:
        latest[code] = value
    return latest


def _needs(user, node: Node, months: Sequence[dt.date]) -> dict[dt.date, suggest.Need]:
    tree = node.tree
    tm = analysis.tree_month(user=user, tree=tree, period=tree.start_month)
    if not tm.scenario.is_leaf(node.code):
        return {}
    ancestors = [c for c in tm.scenario.ancestors(node.code) if c in tm.visible]
    if not ancestors:
        return {}
    goals: dict[tuple[str, dt.date], float] = {
        (code, period): value
        for code, period, value in Target.objects.filter(
            node__tree=tree, node__code__in=ancestors, period__in=months
        ).values_list("node__code", "period", "value")
    }
    if not goals:
        return {}
    scenario = whatif.Scenario(tm.scenario.specs, _latest_actuals(node), tm.units)
    out: dict[dt.date, suggest.Need] = {}
    for m in months:
        code = next((c for c in ancestors if (c, m) in goals), None)
        if code is None:
            continue
        need = suggest.back_solve(
            scenario,
            leaf=node.code,
            node=code,
            goal=goals[(code, m)],
            name=tm.names[code],
            unit=tm.units[code],
        )
        if need is not None:
            out[m] = need
    return out


def _actuals(node: Node) -> pd.Series:
    """The KPI's monthly actuals: its own for an entered KPI, its monthly rollup for a computed
    one (a formula or a sum has no actuals of its own)."""
    if node.rollup == RollupRule.INPUT:
        qs = Actual.objects.filter(node=node).values_list("period", "value")
    else:
        qs = Rollup.objects.filter(node=node, grain=Grain.MONTH, actual__isnull=False).values_list(
            "period", "actual"
        )
    rows = list(qs.order_by("period"))
    if not rows:
        return pd.Series([], dtype=float)
    return pd.Series([v for _p, v in rows], index=[p for p, _v in rows], dtype=float)


def months_to_suggest(node: Node, actual: pd.Series) -> list[dt.date]:
    """The plan's months after the KPI's last actual (all of them when it has none)."""
    plan = month_range(node.tree.start_month, node.tree.end_month)
    present = actual.dropna()
    if present.empty:
        return plan
    return [m for m in plan if m > present.index[-1]]


def suggestions_for(
    *, user, node: Node, months: Sequence[dt.date] | None = None
) -> list[suggest.Suggestion]:
    """The suggestions for `node` (already visible to `user`) in `months` (default: see the
    module's docstring)."""
    node = nodes_for(user).select_related("tree").get(pk=node.pk)
    actual = _actuals(node)
    wanted = list(months) if months is not None else months_to_suggest(node, actual)
    if not wanted:
        return []
    return suggest.suggest(
        wanted,
        actual,
        benchmark=node.benchmark,
        needs=_needs(user, node, wanted),
        unit=node.unit,
        time_aggregation=node.time_aggregation,
        direction=node.direction,
        fiscal_year_start=node.tree.fiscal_year_start,
    )
