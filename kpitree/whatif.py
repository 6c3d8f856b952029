"""What-if, sensitivity and goal-seek on a KPI tree for one month. No database.

Everything here evaluates the tree with the rollup engine itself (`engine.TreePlan.evaluate`,
the month step of `engine.compute`): the formulas are kpitree/formula.py's, parsed once, so a
what-if can never disagree with the rollup and there is no second evaluator. A scenario is a
column of the (nodes × columns) matrix the engine evaluates, so many scenarios (the ±1 % of every
leaf, the points of a goal-seek's scan) are one numpy evaluation.

- **What-if** (`what_if`): change one or more leaves (inputs) to a value or by a percentage;
  every computed node is evaluated again; before and after per node.
- **Sensitivity** (`elasticities`): the elasticity of a node to a leaf is the % change of the node
  per 1 % change of the leaf, by a central finite difference through the real evaluation:
  E = (f(x·1.01) − f(x·0.99)) / (0.02 · f(x)). For a node that is a product of its leaf (any
  power 1 factor: 受注数 = 架電数 × 接続率 …) or a sum (the leaf's share of it) the difference is
  linear, so the result is exact up to rounding (kept to 9 decimals); for other formulas it is
  the arc elasticity over ±1 %. A leaf or node without a value, a leaf at 0 or a node at 0 has
  none (None).
- **Goal-seek** (`goal_seek`): the value a leaf must take for a node to reach a value, the other
  leaves unchanged. The leaf's range (the caller's, else 0–100 for a rate in %, else 0 to 10× its
  current value) is scanned at SCAN_POINTS points in one evaluation; the bracket where the node
  crosses the value nearest the current value is solved with scipy.optimize.brentq. When no
  point of the range gets there, the answer is "not reachable" with the best value in the range
  (the point nearest the goal).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _
from scipy.optimize import brentq

from kpi_planner.errors import Problem, ServiceError
from kpitree.engine import NodeSpec, TreePlan

STEP = 0.01  # ±1 %: the elasticity's finite difference
DIGITS = 9  # decimals an elasticity keeps (the finite difference's rounding is far below)
SCAN_POINTS = 201  # points of a goal-seek's range evaluated before solving
RATE_UNITS = frozenset({"%", "％"})
SCALE = 10.0  # a leaf that is not a rate: 0 to 10× its current value


@dataclass(frozen=True)
class Change:
    """A leaf set to `value`, or changed by `pct` percent (+10: ×1.1)."""

    node: str
    value: float | None = None
    pct: float | None = None


@dataclass(frozen=True)
class Move:
    """A node before and after a what-if (None: no value)."""

    node: str
    before: float | None
    after: float | None
    changed: bool  # a leaf the what-if changed

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def pct(self) -> float | None:
        """The change in percent of the value before; None from 0 or no value."""
        if self.before is None or self.after is None or self.before == 0:
            return None
        return (self.after - self.before) / abs(self.before) * 100.0


@dataclass(frozen=True)
class Elasticity:
    leaf: str
    value: float | None  # the leaf's current value
    elasticity: float | None


@dataclass(frozen=True)
class GoalSeek:
    node: str
    goal: float
    leaf: str
    current: float | None  # the leaf's value now
    current_node: float | None  # the node's value now
    low: float
    high: float
    reachable: bool
    value: float | None  # the leaf's value that reaches the goal; else the best in range
    achieved: float | None  # the node's value with the leaf at `value`


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass
class Scenario:
    """A tree compiled once with one month's values of its leaves (inputs)."""

    specs: Sequence[NodeSpec]
    values: Mapping[str, float | None]
    units: Mapping[str, str] = field(default_factory=dict)
    plan: TreePlan = field(init=False)
    base: np.ndarray = field(init=False)  # the leaves' values, NaN where missing (one column)
    before: np.ndarray = field(init=False)  # every node evaluated

    def __post_init__(self) -> None:
        self.plan = TreePlan.build(self.specs)
        self.base = np.full(len(self.plan.codes), np.nan)
        for code, value in self.values.items():
            i = self.plan.index.get(code)
            if i is not None and value is not None:
                self.base[i] = value
        self.before = self.evaluate(self.base[:, None])[:, 0]

    # -- the tree -----------------------------------------------------------------------------

    @property
    def codes(self) -> list[str]:
        return self.plan.codes

    def is_leaf(self, code: str) -> bool:
        i = self.plan.index.get(code)
        return i is not None and not self.plan.computed[i]

    def leaves(self) -> list[str]:
        return [
            c for c, computed in zip(self.codes, self.plan.computed, strict=True) if not computed
        ]

    def under(self, code: str) -> list[str]:
        """The leaves below `code` (the only ones its value can depend on), in tree order."""
        top = self.plan.index[code]
        parent = self.plan.parent_idx
        out = []
        for leaf in self.leaves():
            i = parent[self.plan.index[leaf]]
            while i >= 0 and i != top:
                i = parent[i]
            if i == top:
                out.append(leaf)
        return out

    def ancestors(self, code: str) -> list[str]:
        """The nodes above `code`, its parent first, up to the root."""
        out = []
        i = self.plan.parent_idx[self.plan.index[code]]
        while i >= 0:
            out.append(self.codes[i])
            i = self.plan.parent_idx[i]
        return out

    def value(self, code: str) -> float | None:
        return _num(self.before[self.plan.index[code]])

    def evaluate(self, columns: np.ndarray) -> np.ndarray:
        """Each column a scenario of the leaves' values: every node evaluated by the engine."""
        return self.plan.evaluate(columns)

    def _columns(self, count: int) -> np.ndarray:
        return np.repeat(self.base[:, None], count, axis=1)


def unknown_node(code: str, name: str, index: int | None = None) -> Problem:
    """The problem of a code that names no node (callers also give it for a hidden one)."""
    return Problem(_("There is no node %(code)s in this tree.") % {"code": code}, name, index)


def _node_problem(s: Scenario, code: str, name: str, *, leaf: bool, index: int | None = None):
    if code not in s.plan.index:
        return unknown_node(code, name, index)
    if leaf and not s.is_leaf(code):
        return Problem(
            _("%(code)s is computed from its children: change one of its inputs.") % {"code": code},
            name,
            index,
        )
    return None


def what_if(
    s: Scenario, changes: Sequence[Change], *, known: Collection[str] | None = None
) -> list[Move]:
    """Every node before and after the changes, in the tree's order. A code outside `known`
    (the nodes the caller may name) is refused as an unknown node."""
    problems: list[Problem] = []
    seen: set[str] = set()
    column = s.base.copy()
    for k, change in enumerate(changes):
        if known is not None and change.node not in known:
            problems.append(unknown_node(change.node, "node", k))
            continue
        problem = _node_problem(s, change.node, "node", leaf=True, index=k)
        if problem is None and change.node in seen:
            problem = Problem(_("%(code)s is changed twice.") % {"code": change.node}, "node", k)
        if problem is None and (change.value is None) == (change.pct is None):
            problem = Problem(_("Give either a value or a change in percent."), "value", k)
        if problem is not None:
            problems.append(problem)
            continue
        seen.add(change.node)
        i = s.plan.index[change.node]
        if change.value is not None:
            column[i] = change.value
        elif math.isnan(column[i]):
            problems.append(
                Problem(
                    _("%(code)s has no value in this month: give a value, not a change in %%.")
                    % {"code": change.node},
                    "pct",
                    k,
                )
            )
        else:
            column[i] = column[i] * (1 + (change.pct or 0.0) / 100.0)
    if problems:
        raise ServiceError(problems)
    after = s.evaluate(column[:, None])[:, 0]
    return [
        Move(code, _num(s.before[i]), _num(after[i]), code in seen)
        for i, code in enumerate(s.codes)
    ]


def elasticities(
    s: Scenario, of: str, leaves: Sequence[str] | None = None, *, step: float = STEP
) -> list[Elasticity]:
    """The elasticity of node `of` to each leaf below it (or to `leaves`), the largest in size
    first; leaves without one last. See the module's docstring for the method."""
    problem = _node_problem(s, of, "node", leaf=False)
    if problem is not None:
        raise ServiceError([problem])
    wanted = s.under(of) if leaves is None else [leaf for leaf in leaves if s.is_leaf(leaf)]
    n = len(wanted)
    row = s.plan.index[of]
    base_value = s.before[row]
    columns = s._columns(2 * n)
    for k, leaf in enumerate(wanted):
        i = s.plan.index[leaf]
        columns[i, 2 * k] *= 1 + step
        columns[i, 2 * k + 1] *= 1 - step
    result = s.evaluate(columns)[row] if n else np.zeros(0)
    out = []
    for k, leaf in enumerate(wanted):
        x = s.base[s.plan.index[leaf]]
        e: float | None = None
        if math.isfinite(x) and x != 0 and math.isfinite(base_value) and base_value != 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = (result[2 * k] - result[2 * k + 1]) / (2 * step * base_value)
            e = round(float(ratio), DIGITS) if math.isfinite(ratio) else None
            if e == 0:
                e = 0.0  # not -0.0
        out.append(Elasticity(leaf, _num(x), e))
    out.sort(key=lambda r: (r.elasticity is None, -abs(r.elasticity or 0.0)))
    return out


def leaf_range(s: Scenario, leaf: str, bounds: tuple[float, float] | None = None):
    """The range a goal-seek searches: the caller's, 0–100 for a rate in %, else 0 to 10× the
    leaf's current value; None when there is none (a leaf at 0 or without a value)."""
    if bounds is not None:
        return float(bounds[0]), float(bounds[1])
    if s.units.get(leaf, "") in RATE_UNITS:
        return 0.0, 100.0
    current = s.base[s.plan.index[leaf]]
    if math.isfinite(current) and current > 0:
        return 0.0, SCALE * float(current)
    return None


def goal_seek(
    s: Scenario,
    *,
    node: str,
    goal: float,
    leaf: str,
    bounds: tuple[float, float] | None = None,
) -> GoalSeek:
    """The value `leaf` must take for `node` to reach `goal` (see the module's docstring)."""
    problems = [
        p
        for p in (
            _node_problem(s, node, "node", leaf=False),
            _node_problem(s, leaf, "leaf", leaf=True),
        )
        if p is not None
    ]
    if not problems and leaf not in s.under(node):
        problems.append(
            Problem(_("%(leaf)s does not lead to %(node)s.") % {"leaf": leaf, "node": node}, "leaf")
        )
    span = None if problems else leaf_range(s, leaf, bounds)
    if not problems and span is None:
        problems.append(
            Problem(_("%(leaf)s has no value to scale: give a range.") % {"leaf": leaf}, "range")
        )
    if span is not None and not (math.isfinite(span[0]) and span[0] < span[1] < math.inf):
        problems.append(Problem(_("The range's low end must be below its high end."), "range"))
    if problems or span is None:
        raise ServiceError(problems)
    low, high = span
    i, row = s.plan.index[leaf], s.plan.index[node]

    def at(x: float) -> float:
        column = s.base.copy()
        column[i] = x
        return float(s.evaluate(column[:, None])[row, 0])

    xs = np.linspace(low, high, SCAN_POINTS)
    columns = s._columns(SCAN_POINTS)
    columns[i] = xs
    gap = s.evaluate(columns)[row] - goal
    current = s.base[i]
    answer = _bracketed_root(xs, gap, current, lambda x: at(x) - goal)
    reachable = answer is not None
    if answer is None:
        finite = np.flatnonzero(np.isfinite(gap))
        answer = float(xs[finite[np.argmin(np.abs(gap[finite]))]]) if finite.size else None
    return GoalSeek(
        node=node,
        goal=goal,
        leaf=leaf,
        current=_num(current),
        current_node=s.value(node),
        low=low,
        high=high,
        reachable=reachable,
        value=answer,
        achieved=None if answer is None else _num(at(answer)),
    )


def _bracketed_root(xs: np.ndarray, gap: np.ndarray, current: float, f) -> float | None:
    """The root of f in the scanned bracket nearest `current` (the range's low end when the leaf
    has no value); None when no scanned point reaches the goal."""
    exact = np.flatnonzero(gap == 0)
    crossing = np.flatnonzero(
        np.isfinite(gap[:-1]) & np.isfinite(gap[1:]) & (np.sign(gap[:-1]) * np.sign(gap[1:]) < 0)
    )
    candidates = [(float(xs[k]), float(xs[k])) for k in exact.tolist()]
    candidates += [(float(xs[k]), float(xs[k + 1])) for k in crossing.tolist()]
    if not candidates:
        return None
    near = current if math.isfinite(current) else float(xs[0])
    a, b = min(candidates, key=lambda ab: min(abs(ab[0] - near), abs(ab[1] - near)))
    if a == b:
        return a
    try:
        # disp=False: a bracket that does not converge (a formula with a gap of missing values
        # inside it) gives brentq's last estimate instead of an error.
        return float(brentq(f, a, b, xtol=1e-12, rtol=4 * np.finfo(float).eps, disp=False))
    except ValueError:  # no change of sign after all (cannot happen with a finite scan)
        return a
