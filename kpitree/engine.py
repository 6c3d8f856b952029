"""The rollup engine: evaluates a KPI tree bottom-up for all months at once. No database.

A tree is compiled once into a `TreePlan` (levels, child index arrays, parsed formulas); the plan
then evaluates whole matrices (nodes × months) with numpy:

- `sum` / `avg` / `weighted_avg` parents aggregate the children that have a value; a parent whose
  children are all missing is missing (NaN);
- `formula` parents apply their parsed formula to the children's rows (see kpitree/formula.py:
  a missing input or a division by zero gives NaN, never an error);
- targets: a computed node's explicit target wins; where it has none, its target is derived from
  its children's targets by the same rule, so 売上's target follows from 訪問数 × CVR × 単価;
- quarters and years follow the fiscal year; each node combines its months by its
  `time_aggregation`, and `recompute` applies the formula to the children's quarter/year values
  (what a ratio such as CVR needs);
- achievement respects direction (`down`: target ÷ actual × 100) and status follows the node's
  thresholds, else the tree's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kpitree.formula import Formula, parse_formula

AGGREGATES = ("sum", "avg", "weighted_avg")
STATUS_NAMES = np.array(["none", "red", "amber", "green"], dtype=object)


@dataclass(frozen=True)
class NodeSpec:
    code: str
    parent: str | None = None
    rollup: str = "input"  # input | sum | avg | weighted_avg | formula
    formula: str = ""
    weight: float = 1.0
    time_aggregation: str = "sum"  # sum | avg | last | min | max | recompute
    direction: str = "up"
    green: float | None = None  # None: the tree's threshold
    amber: float | None = None


class TreeError(ValueError):
    """The tree's structure cannot be evaluated (a cycle, an unknown parent, a bad formula)."""


def month_range(start: dt.date, end: dt.date) -> list[dt.date]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def period_start(month: dt.date, grain: str, fiscal_year_start: int = 4) -> dt.date:
    """First month of the month, fiscal quarter or fiscal year that contains `month`."""
    if grain == "month":
        return month.replace(day=1)
    offset = (month.month - fiscal_year_start) % 12  # months since the fiscal year began
    size = 3 if grain == "quarter" else 12
    back = offset % size
    y, m = month.year, month.month - back
    while m < 1:
        y, m = y - 1, m + 12
    return dt.date(y, m, 1)


def _buckets(
    months: Sequence[dt.date], grain: str, fy_start: int
) -> tuple[list[dt.date], np.ndarray]:
    """The periods of a grain and, for each, the index of its first month (months are contiguous)."""
    starts: list[dt.date] = []
    first_idx: list[int] = []
    for i, m in enumerate(months):
        p = period_start(m, grain, fy_start)
        if not starts or starts[-1] != p:
            starts.append(p)
            first_idx.append(i)
    return starts, np.asarray(first_idx, dtype=np.intp)


@dataclass
class _AggGroup:
    """All `sum`/`avg`/`weighted_avg` parents of one level, reduced in one numpy call."""

    parents: np.ndarray  # node indices of the parents (sorted by their children's order)
    children: np.ndarray  # node indices of the children, grouped by parent
    starts: np.ndarray  # offset of each parent's first child in `children`
    weights: np.ndarray  # weight of each child (1 for sum/avg)
    is_sum: np.ndarray  # per parent: True for sum, False for (weighted) average


@dataclass
class TreePlan:
    codes: list[str]
    index: dict[str, int]
    parent_idx: np.ndarray
    rollup: list[str]
    time_aggregation: list[str]
    direction_down: np.ndarray
    green: np.ndarray
    amber: np.ndarray
    levels: list[tuple[_AggGroup | None, list[tuple[int, Formula, list[tuple[str, int]]]]]]
    computed: np.ndarray  # bool per node: not an input
    agg_by_kind: dict[str, np.ndarray] = field(default_factory=dict)
    recompute_order: list[tuple[int, Formula, list[tuple[str, int]]]] = field(default_factory=list)

    @classmethod
    def build(
        cls, specs: Sequence[NodeSpec], *, green: float = 100.0, amber: float = 90.0
    ) -> TreePlan:
        codes = [s.code for s in specs]
        index = {c: i for i, c in enumerate(codes)}
        if len(index) != len(codes):
            raise TreeError("duplicate node codes")
        n = len(specs)
        parent_idx = np.full(n, -1, dtype=np.intp)
        for i, s in enumerate(specs):
            if s.parent is not None:
                if s.parent not in index:
                    raise TreeError(f"unknown parent {s.parent!r} of {s.code!r}")
                parent_idx[i] = index[s.parent]
        depth = _depths(parent_idx, codes)
        children: list[list[int]] = [[] for _ in range(n)]
        for i in range(n):
            if parent_idx[i] >= 0:
                children[parent_idx[i]].append(i)

        levels = []
        recompute_order = []
        for d in range(int(depth.max(initial=0)), -1, -1):
            at_level = np.flatnonzero(depth == d)
            agg_parents, formulas = [], []
            for i in at_level:
                rule = specs[i].rollup
                if specs[i].time_aggregation == "recompute" and rule != "formula":
                    raise TreeError(f"{codes[i]!r}: recompute needs a formula")
                if rule == "input":
                    continue
                if rule in AGGREGATES:
                    if children[i]:
                        agg_parents.append(i)
                elif rule == "formula":
                    if not specs[i].formula.strip():
                        continue  # no formula yet: the node stays missing
                    kids = {codes[c]: c for c in children[i]}
                    formula = parse_formula(specs[i].formula, kids.keys())
                    entry = (int(i), formula, [(name, kids[name]) for name in formula.names])
                    formulas.append(entry)
                    if specs[i].time_aggregation == "recompute":
                        recompute_order.append(entry)
                else:
                    raise TreeError(f"unknown rollup rule {rule!r} of {codes[i]!r}")
            levels.append((_agg_group(agg_parents, children, specs), formulas))

        tree_green, tree_amber = green, amber
        return cls(
            codes=codes,
            index=index,
            parent_idx=parent_idx,
            rollup=[s.rollup for s in specs],
            time_aggregation=[s.time_aggregation for s in specs],
            direction_down=np.array([s.direction == "down" for s in specs], dtype=bool),
            green=np.array([tree_green if s.green is None else s.green for s in specs], float),
            amber=np.array([tree_amber if s.amber is None else s.amber for s in specs], float),
            levels=levels,
            computed=np.array([s.rollup != "input" for s in specs], dtype=bool),
            agg_by_kind={
                kind: np.array(
                    [i for i, s in enumerate(specs) if s.time_aggregation == kind], dtype=np.intp
                )
                for kind in ("sum", "avg", "last", "min", "max", "recompute")
            },
            recompute_order=recompute_order,
        )

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, values: np.ndarray, *, keep_explicit: bool = False) -> np.ndarray:
        """Fill computed rows of a (nodes × months) matrix bottom-up; returns a new matrix.

        With keep_explicit (targets), a computed node's own non-missing value is kept and only
        its gaps are derived from the children.
        """
        out = np.array(values, dtype=float, copy=True)
        explicit = out.copy() if keep_explicit else None
        if not keep_explicit:
            out[self.computed] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            for group, formulas in self.levels:
                if group is not None:
                    _reduce_group(out, group, explicit)
                for i, formula, args in formulas:
                    derived = formula.evaluate({name: out[c] for name, c in args})
                    out[i] = _keep(explicit, i, derived)
        return out

    def aggregate(self, monthly: np.ndarray, first_idx: np.ndarray) -> np.ndarray:
        """Combine months into periods (quarters or years) by each node's time aggregation."""
        n, _t = monthly.shape
        p = len(first_idx)
        out = np.full((n, p), np.nan)
        present = ~np.isnan(monthly)
        counts = np.add.reduceat(present, first_idx, axis=1) if p else np.zeros((n, 0))
        filled0 = np.where(present, monthly, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            for kind, rows in self.agg_by_kind.items():
                if rows.size == 0 or kind == "recompute":
                    continue
                c = counts[rows]
                if kind == "sum":
                    vals = np.add.reduceat(filled0[rows], first_idx, axis=1)
                elif kind == "avg":
                    vals = np.add.reduceat(filled0[rows], first_idx, axis=1) / c
                elif kind == "min":
                    vals = np.minimum.reduceat(
                        np.where(present[rows], monthly[rows], np.inf), first_idx, axis=1
                    )
                elif kind == "max":
                    vals = np.maximum.reduceat(
                        np.where(present[rows], monthly[rows], -np.inf), first_idx, axis=1
                    )
                else:  # last: the last month of the period that has a value
                    vals = _last_in_buckets(monthly[rows], present[rows], first_idx)
                out[rows] = np.where(c > 0, vals, np.nan)
            # recompute: the formula over the children's period values, deepest first.
            for i, formula, args in self.recompute_order:
                out[i] = formula.evaluate({name: out[c] for name, c in args})
        return out

    def achievement(self, actual: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Achievement (%) respecting direction, and status codes 0 none, 1 red, 2 amber, 3 green."""
        with np.errstate(divide="ignore", invalid="ignore"):
            up = actual / target * 100.0
            down = target / actual * 100.0
        ach = np.where(self.direction_down[:, None], down, up)
        ach[~np.isfinite(ach)] = np.nan
        green = self.green[:, None]
        amber = self.amber[:, None]
        status = np.where(ach >= green, 3, np.where(ach >= amber, 2, 1))
        status[np.isnan(ach)] = 0
        return ach, status


def _keep(explicit: np.ndarray | None, i: int, derived: np.ndarray) -> np.ndarray:
    if explicit is None:
        return derived
    own = explicit[i]
    return np.where(np.isnan(own), derived, own)


def _reduce_group(out: np.ndarray, g: _AggGroup, explicit: np.ndarray | None) -> None:
    vals = out[g.children]
    present = ~np.isnan(vals)
    w = g.weights[:, None]
    num = np.add.reduceat(np.where(present, vals * w, 0.0), g.starts, axis=0)
    den = np.add.reduceat(present * w, g.starts, axis=0)
    cnt = np.add.reduceat(present, g.starts, axis=0)
    result = np.where(g.is_sum[:, None], num, num / den)
    result[cnt == 0] = np.nan
    result[~np.isfinite(result)] = np.nan
    if explicit is not None:
        own = explicit[g.parents]
        result = np.where(np.isnan(own), result, own)
    out[g.parents] = result


def _agg_group(
    parents: list[int], children: list[list[int]], specs: Sequence[NodeSpec]
) -> _AggGroup | None:
    if not parents:
        return None
    kids, starts, weights = [], [], []
    for p in parents:
        starts.append(len(kids))
        weighted = specs[p].rollup == "weighted_avg"
        for c in children[p]:
            kids.append(c)
            weights.append(specs[c].weight if weighted else 1.0)
    return _AggGroup(
        parents=np.asarray(parents, dtype=np.intp),
        children=np.asarray(kids, dtype=np.intp),
        starts=np.asarray(starts, dtype=np.intp),
        weights=np.asarray(weights, dtype=float),
        is_sum=np.array([specs[p].rollup == "sum" for p in parents], dtype=bool),
    )


def _depths(parent_idx: np.ndarray, codes: list[str]) -> np.ndarray:
    n = len(parent_idx)
    depth = np.full(n, -1, dtype=np.intp)
    for start in range(n):
        path = []
        i = start
        while i >= 0 and depth[i] < 0:
            if i in path:
                raise TreeError(f"cycle through {codes[i]!r}")
            path.append(i)
            i = parent_idx[i]
        base = -1 if i < 0 else depth[i]
        for k, node in enumerate(reversed(path)):
            depth[node] = base + 1 + k
    return depth


def _last_in_buckets(vals: np.ndarray, present: np.ndarray, first_idx: np.ndarray) -> np.ndarray:
    _n, t = vals.shape
    pos = np.where(present, np.arange(t)[None, :], -1)
    last_pos = np.maximum.reduceat(pos, first_idx, axis=1)
    safe = np.clip(last_pos, 0, t - 1)
    picked = np.take_along_axis(vals, safe, axis=1)
    return np.where(last_pos >= 0, picked, np.nan)


@dataclass
class GrainResult:
    periods: list[dt.date]
    actual: np.ndarray
    target: np.ndarray
    achievement: np.ndarray
    status: np.ndarray  # codes, see STATUS_NAMES


def compute(
    plan: TreePlan,
    months: Sequence[dt.date],
    actual: np.ndarray,
    target: np.ndarray,
    *,
    fiscal_year_start: int = 4,
) -> dict[str, GrainResult]:
    """Evaluate a tree for every month, quarter and year of its plan."""
    m_actual = plan.evaluate(actual)
    m_target = plan.evaluate(target, keep_explicit=True)
    has_own_target = ~np.isnan(target).all(axis=1) & plan.computed
    results = {
        "month": GrainResult(
            list(months), m_actual, m_target, *plan.achievement(m_actual, m_target)
        )
    }
    for grain in ("quarter", "year"):
        periods, first_idx = _buckets(months, grain, fiscal_year_start)
        a = plan.aggregate(m_actual, first_idx)
        t = plan.aggregate(m_target, first_idx)
        # A recompute node with explicit targets of its own: its period target is its own months
        # combined (a ratio's target is an average of its monthly targets), not the formula.
        own = has_own_target & np.isin(np.arange(len(plan.codes)), plan.agg_by_kind["recompute"])
        if own.any():
            with np.errstate(invalid="ignore"):
                t[own] = _nanmean_buckets(m_target[own], first_idx)
        results[grain] = GrainResult(periods, a, t, *plan.achievement(a, t))
    return results


def _nanmean_buckets(vals: np.ndarray, first_idx: np.ndarray) -> np.ndarray:
    present = ~np.isnan(vals)
    s = np.add.reduceat(np.where(present, vals, 0.0), first_idx, axis=1)
    c = np.add.reduceat(present, first_idx, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c > 0, s / c, np.nan)


def to_frame(plan: TreePlan, results: dict[str, GrainResult]) -> pd.DataFrame:
    """Long format: one row per node, grain and period (what the Rollup table stores)."""
    frames = []
    n = len(plan.codes)
    for grain, r in results.items():
        p = len(r.periods)
        frames.append(
            pd.DataFrame(
                {
                    "node": np.repeat(np.asarray(plan.codes, dtype=object), p),
                    "grain": grain,
                    "period": np.tile(np.asarray(r.periods, dtype=object), n),
                    "actual": r.actual.ravel(),
                    "target": r.target.ravel(),
                    "achievement": r.achievement.ravel(),
                    "status": STATUS_NAMES[r.status.ravel()],
                    "computed": np.repeat(plan.computed, p),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def rollup(
    specs: Sequence[NodeSpec],
    months: Sequence[dt.date],
    actuals: dict[tuple[str, dt.date], float],
    targets: dict[tuple[str, dt.date], float],
    *,
    fiscal_year_start: int = 4,
    green: float = 100.0,
    amber: float = 90.0,
) -> pd.DataFrame:
    """Convenience for tests and small callers: dicts in, the long DataFrame out."""
    plan = TreePlan.build(specs, green=green, amber=amber)
    a = _matrix(plan, months, actuals)
    t = _matrix(plan, months, targets)
    return to_frame(plan, compute(plan, months, a, t, fiscal_year_start=fiscal_year_start))


def _matrix(plan: TreePlan, months: Sequence[dt.date], values: dict) -> np.ndarray:
    col = {m: j for j, m in enumerate(months)}
    out = np.full((len(plan.codes), len(months)), np.nan)
    for (code, month), v in values.items():
        out[plan.index[code], col[month]] = v
    return out
