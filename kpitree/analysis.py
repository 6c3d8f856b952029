"""What-if, sensitivity and goal-seek for a user: a tree's nodes and one month's values loaded
from the database, the computing done by kpitree/whatif.py (the rollup engine's evaluation).

The whole tree is evaluated (a visible KPI's value depends on its hidden siblings, as in the
rollup), but a user names and sees only the nodes kpi_planner.access lets them see: a hidden
node is answered as an unknown one. The values are the month's actuals, or with
`basis="target"` the plan's targets of the leaves (every computed node then follows from its
leaves: a what-if asks what the formulas give, so a computed node's own target is not kept).
Nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from kpi_planner.access import nodes_for
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import month_range
from kpitree import whatif
from kpitree.engine import NodeSpec
from kpitree.models import Actual, Node, Target, Tree
from kpitree.recompute import NODE_COLUMNS

BASES = ("actual", "target")


@dataclass
class TreeMonth:
    """A tree with one month's values, as one user sees it."""

    tree: Tree
    period: dt.date
    basis: str
    scenario: whatif.Scenario
    order: list[str]  # the visible nodes, depth first
    names: dict[str, str]
    units: dict[str, str]
    targets: dict[str, float | None]  # the month's target of each node, as the rollup derives it

    @property
    def visible(self) -> set[str]:
        return set(self.order)

    @property
    def top(self) -> str | None:
        """The highest computed node the user sees (the KGI for a manager)."""
        depth = {code: len(self.scenario.ancestors(code)) for code in self.order}
        computed = [c for c in self.order if not self.scenario.is_leaf(c)]
        return min(computed, key=lambda c: depth[c]) if computed else None

    def leaves(self, under: str | None = None) -> list[str]:
        """The visible leaves (below `under`), depth first."""
        below = set(self.scenario.under(under)) if under else None
        return [c for c in self.order if self.scenario.is_leaf(c) and (below is None or c in below)]

    def label(self, code: str) -> dict[str, Any]:
        return {"node": code, "name": self.names[code], "unit": self.units[code]}


def tree_month(*, user, tree: Tree, period: dt.date | None, basis: str = "actual") -> TreeMonth:
    """Load `tree` (already visible to `user`) for `period`; 400 for a month outside the plan."""
    problems = []
    if period is None or not tree.start_month <= period <= tree.end_month:
        problems.append(
            Problem(
                _("Choose a month of the plan (%(first)s to %(last)s).")
                % {"first": f"{tree.start_month:%Y-%m}", "last": f"{tree.end_month:%Y-%m}"},
                "period",
            )
        )
    if basis not in BASES:
        problems.append(Problem(_("The basis is actual or target."), "target"))
    if problems or period is None:
        raise ServiceError(problems)
    nodes = list(
        # The recompute's columns (the same NodeSpecs), then what the answer shows.
        Node.objects.filter(tree=tree).values_list(*NODE_COLUMNS, "name", "unit", "position")
    )
    code_of = {row[0]: row[1] for row in nodes}
    specs = [
        NodeSpec(
            code=row[1],
            parent=code_of.get(row[2]),
            rollup=row[3],
            formula=row[4],
            weight=row[5],
            time_aggregation=row[6],
            direction=row[7],
            green=row[8],
            amber=row[9],
        )
        for row in nodes
    ]
    visible = set(nodes_for(user).filter(tree=tree).values_list("code", flat=True))
    leaf_values = _values(Actual if basis == "actual" else Target, tree, period)
    units = {row[1]: row[11] for row in nodes}
    scenario = whatif.Scenario(specs, leaf_values, units)
    targets = _values(Target, tree, period)
    target_column = np.full(len(scenario.codes), np.nan)
    for code, value in targets.items():
        target_column[scenario.plan.index[code]] = value
    derived = scenario.plan.evaluate(target_column[:, None], keep_explicit=True)[:, 0]
    return TreeMonth(
        tree=tree,
        period=period,
        basis=basis,
        scenario=scenario,
        order=[code for code in _depth_first(nodes) if code in visible],
        names={row[1]: row[10] for row in nodes},
        units=units,
        targets={c: whatif._num(derived[i]) for i, c in enumerate(scenario.codes)},
    )


def _values(model, tree: Tree, period: dt.date) -> dict[str, float]:
    rows = model.objects.filter(
        node__tree=tree, node__archived_at__isnull=True, period=period
    ).values_list("node__code", "value")
    return dict(rows)


def _depth_first(nodes: list[tuple]) -> list[str]:
    children: dict[int | None, list[tuple]] = {}
    ids = {row[0] for row in nodes}
    for row in sorted(nodes, key=lambda r: (r[12], r[0])):
        children.setdefault(row[2] if row[2] in ids else None, []).append(row)
    out: list[str] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        row = stack.pop()
        out.append(row[1])
        stack.extend(reversed(children.get(row[0], [])))
    return out


def plan_months(tree: Tree) -> list[dt.date]:
    return month_range(tree.start_month, tree.end_month)


# -- the three questions ------------------------------------------------------------------------


def _hidden(tm: TreeMonth, codes: Sequence[tuple[str, str, int | None]]) -> None:
    """400 for every (code, field, index) that names a node the user does not see."""
    problems = [
        whatif.unknown_node(code, name, index)
        for code, name, index in codes
        if code not in tm.visible
    ]
    if problems:
        raise ServiceError(problems)


def _head(tm: TreeMonth) -> dict[str, Any]:
    return {"tree": tm.tree.code, "period": f"{tm.period:%Y-%m}", "basis": tm.basis}


def what_if(tm: TreeMonth, changes: Sequence[whatif.Change]) -> dict[str, Any]:
    """Every visible node before and after the changes (depth first)."""
    moves = {m.node: m for m in whatif.what_if(tm.scenario, changes, known=tm.visible)}
    rows = []
    for code in tm.order:
        m = moves[code]
        rows.append(
            {
                **tm.label(code),
                "before": m.before,
                "after": m.after,
                "delta": m.delta,
                "pct": m.pct,
                "changed": m.changed,
                "computed": not tm.scenario.is_leaf(code),
                "target": tm.targets[code],
            }
        )
    return {**_head(tm), "nodes": rows}


def default_node(tm: TreeMonth, node: str | None) -> str:
    if node:
        _hidden(tm, [(node, "node", None)])
        return node
    top = tm.top
    if top is None:
        raise ServiceError([Problem(_("Choose a computed node."), "node")])
    return top


def sensitivity(tm: TreeMonth, node: str | None = None) -> dict[str, Any]:
    """The elasticity of `node` (default: the highest computed node the user sees) to each
    visible leaf below it, the largest in size first."""
    code = default_node(tm, node)
    visible = tm.visible
    rows = [
        {**tm.label(e.leaf), "value": e.value, "elasticity": e.elasticity}
        for e in whatif.elasticities(tm.scenario, code)
        if e.leaf in visible
    ]
    return {
        **_head(tm),
        **tm.label(code),
        "value": tm.scenario.value(code),
        "method": str(
            _(
                "Central difference of ±1 percent through the tree's formulas: the percent "
                "change of the node per 1 percent change of the leaf (exact for products and "
                "sums)."
            )
        ),
        "leaves": rows,
    }


def goal_seek(
    tm: TreeMonth,
    *,
    node: str,
    goal: float,
    leaf: str,
    bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The value `leaf` needs for `node` to reach `goal` in the month."""
    _hidden(tm, [(node, "node", None), (leaf, "leaf", None)])
    r = whatif.goal_seek(tm.scenario, node=node, goal=goal, leaf=leaf, bounds=bounds)
    return {
        **_head(tm),
        **tm.label(node),
        "value": goal,
        "current": r.current_node,
        "leaf": {**tm.label(leaf), "current": r.current},
        "range": [r.low, r.high],
        "reachable": r.reachable,
        "leaf_value": r.value,
        "achieved": r.achieved,
    }
