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
from itertools import repeat

import numpy as np
import pandas as pd

from kpi_planner.months import month_range as month_range  # months live there; a name here
from kpi_planner.months import period_start
from kpitree.formula import Formula, ShapeParser

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
    unit_weights: bool = False  # every weight is 1: the weighted sums are plain sums


@dataclass
class _FormulaBatch:
    """Formula nodes of one level whose formulas have the same shape, evaluated in one call.

    Evaluating a parsed formula costs a few numpy calls whatever the size of its arrays, so a
    tree with hundreds of `a * b / 100`-like nodes is evaluated one shape at a time on
    (nodes × months) blocks instead of one node at a time on single rows. The formulas are
    element-wise, so the values are exactly those of node-by-node evaluation.
    """

    nodes: np.ndarray  # node indices of the batch
    formula: Formula  # the first node's parsed formula; the others have the same shape
    args: list[tuple[str, np.ndarray]]  # each name of `formula` → the matching child of every node
    recompute: bool  # the nodes' time aggregation is `recompute`

    def evaluate(self, out: np.ndarray) -> np.ndarray:
        return self.formula.evaluate({name: out[rows] for name, rows in self.args})


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
    levels: list[tuple[_AggGroup | None, list[_FormulaBatch]]]  # deepest level first
    computed: np.ndarray  # bool per node: not an input
    agg_by_kind: dict[str, np.ndarray] = field(default_factory=dict)
    recompute_batches: list[_FormulaBatch] = field(default_factory=list)  # deepest first

    @classmethod
    def build(
        cls, specs: Sequence[NodeSpec], *, green: float = 100.0, amber: float = 90.0
    ) -> TreePlan:
        # Read each attribute once into a list: a recompute reads thousands of specs, and
        # per-node Python work is what dominates building a plan.
        n = len(specs)
        codes = [s.code for s in specs]
        parent_codes = [s.parent for s in specs]
        rollup = [s.rollup for s in specs]
        texts = [s.formula for s in specs]
        weights = [s.weight for s in specs]
        time_aggregation = [s.time_aggregation for s in specs]
        index = dict(zip(codes, range(n), strict=True))
        if len(index) != n:
            raise TreeError("duplicate node codes")
        # A root's parent code None, like an unknown code, gives -2.
        parents = map(index.get, parent_codes, repeat(-2))  # type: ignore[arg-type]
        parent_idx = np.fromiter(parents, dtype=np.intp, count=n)
        for i in np.flatnonzero(parent_idx == -2).tolist():  # the roots, and unknown parents
            if parent_codes[i] is not None:
                raise TreeError(f"unknown parent {parent_codes[i]!r} of {codes[i]!r}")
            parent_idx[i] = -1
        depth = _depths_vectorised(parent_idx, codes)
        child_order, child_start = _children_csr(parent_idx)

        # Only computed nodes (and nodes whose settings are an error) need a look; visit them
        # in the order of the original level walk — deepest level first, then by position —
        # so that the first error raised is the same one.
        rollup_arr = np.array(rollup, dtype=object)
        time_agg_arr = np.array(time_aggregation, dtype=object)
        look = np.flatnonzero((rollup_arr != "input") | (time_agg_arr == "recompute"))
        look = look[np.argsort(-depth[look], kind="stable")]
        max_depth = int(depth.max(initial=0))
        agg_parents: list[list[int]] = [[] for _ in range(max_depth + 1)]
        shapes: list[dict[tuple, list[tuple[int, Formula, tuple[str, ...], list[int]]]]] = [
            {} for _ in range(max_depth + 1)
        ]
        parser = ShapeParser()  # formulas of one shape are parsed once
        for i in look.tolist():
            rule = rollup[i]
            if time_aggregation[i] == "recompute" and rule != "formula":
                raise TreeError(f"{codes[i]!r}: recompute needs a formula")
            if rule == "input":
                continue
            kids = child_order[child_start[i] : child_start[i + 1]]
            if rule in AGGREGATES:
                if kids.size:
                    agg_parents[depth[i]].append(i)
            elif rule == "formula":
                text = texts[i]
                if not text.strip():
                    continue  # no formula yet: the node stays missing
                by_code = {codes[c]: c for c in kids.tolist()}
                # A formula of this text's shape (the parser raises its own error for a bad
                # formula), and the node's children in the order of that formula's codes.
                formula, own_codes = parser.parse(text, by_code.keys())
                shape = formula.shape
                recompute = time_aggregation[i] == "recompute"
                shapes[depth[i]].setdefault((shape.template, recompute), []).append(
                    (i, formula, shape.codes, [by_code[name] for name in own_codes])
                )
            else:
                raise TreeError(f"unknown rollup rule {rule!r} of {codes[i]!r}")

        levels: list[tuple[_AggGroup | None, list[_FormulaBatch]]] = []
        recompute_batches: list[_FormulaBatch] = []
        for d in range(max_depth, -1, -1):
            group = _agg_group(agg_parents[d], child_order, child_start, rollup_arr, weights)
            batches = [
                _batch(members, recompute) for (_key, recompute), members in shapes[d].items()
            ]
            levels.append((group, batches))
            recompute_batches += [b for b in batches if b.recompute]

        return cls(
            codes=codes,
            index=index,
            parent_idx=parent_idx,
            rollup=rollup,
            time_aggregation=time_aggregation,
            direction_down=np.array([s.direction for s in specs], dtype=object) == "down",
            green=_thresholds([s.green for s in specs], green),
            amber=_thresholds([s.amber for s in specs], amber),
            levels=levels,
            computed=rollup_arr != "input",
            agg_by_kind={
                kind: np.flatnonzero(time_agg_arr == kind)
                for kind in ("sum", "avg", "last", "min", "max", "recompute")
            },
            recompute_batches=recompute_batches,
        )

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, values: np.ndarray, *, keep_explicit: bool = False) -> np.ndarray:
        """Fill computed rows of a (nodes × months) matrix bottom-up; returns a new matrix.

        With keep_explicit (targets), a computed node's own non-missing value is kept and only
        its gaps are derived from the children.
        """
        source = np.asarray(values, dtype=float)
        out = source.copy()
        # `source` is never written, so it can stand for the explicit values without a copy.
        explicit = source if keep_explicit else None
        if not keep_explicit:
            out[self.computed] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            for group, batches in self.levels:
                if group is not None:
                    _reduce_group(out, group, explicit)
                for batch in batches:
                    out[batch.nodes] = _keep(explicit, batch.nodes, batch.evaluate(out))
        return out

    def aggregate(
        self,
        monthly: np.ndarray,
        first_idx: np.ndarray,
        *,
        present: np.ndarray | None = None,
        filled0: np.ndarray | None = None,
        counts: np.ndarray | None = None,
        fixed: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Combine months into periods (quarters or years) by each node's time aggregation.

        compute() passes in what several grains share: `present` (~isnan(monthly)), `filled0`
        (monthly with 0 for missing) and `counts` (months with a value per period). `fixed`
        (rows, values) gives some rows their period values outright, before the `recompute`
        formulas read them (an incremental recompute's unchanged children).
        """
        n, _t = monthly.shape
        p = len(first_idx)
        if present is None:
            present = ~np.isnan(monthly)
        if filled0 is None:
            filled0 = np.where(present, monthly, 0.0)
        if counts is None:
            counts = np.add.reduceat(present, first_idx, axis=1) if p else np.zeros((n, 0))
        # Sums per period for every row at once, which are then the result of the `sum` rows
        # in place: reduceat works row by row, so a row's sums do not depend on the other rows,
        # and one pass over the whole matrix is cheaper than gathering most of it first.
        out = np.add.reduceat(filled0, first_idx, axis=1) if p else np.zeros((n, 0))
        kinds = self.agg_by_kind
        with np.errstate(divide="ignore", invalid="ignore"):
            avg = kinds["avg"]
            if avg.size:
                out[avg] = out[avg] / counts[avg]
            out[counts == 0] = np.nan
            # Rows of no kind (recompute, or an unknown name) start missing.
            other = np.ones(n, dtype=bool)
            other[kinds["sum"]] = False
            other[avg] = False
            out[other] = np.nan
            for kind in ("min", "max", "last"):
                rows = kinds[kind]
                if rows.size == 0:
                    continue
                if kind == "min":
                    vals = np.minimum.reduceat(
                        np.where(present[rows], monthly[rows], np.inf), first_idx, axis=1
                    )
                elif kind == "max":
                    vals = np.maximum.reduceat(
                        np.where(present[rows], monthly[rows], -np.inf), first_idx, axis=1
                    )
                else:  # last: the last month of the period that has a value
                    vals = _last_in_buckets(monthly[rows], present[rows], first_idx)
                out[rows] = np.where(counts[rows] > 0, vals, np.nan)
            if fixed is not None:
                out[fixed[0]] = fixed[1]
            # recompute: the formula over the children's period values, deepest first.
            for batch in self.recompute_batches:
                out[batch.nodes] = batch.evaluate(out)
        return out

    def achievement(self, actual: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Achievement (%) respecting direction, and status codes 0 none, 1 red, 2 amber, 3 green."""
        with np.errstate(divide="ignore", invalid="ignore"):
            # actual ÷ target × 100 everywhere, then target ÷ actual × 100 on the `down` rows
            # only: the same operations per cell as computing both and choosing, at about half
            # the cost when few rows are `down`.
            ach = np.divide(actual, target)
            ach *= 100.0
            down = np.flatnonzero(self.direction_down)
            if down.size:
                flipped = np.divide(target[down], actual[down])
                flipped *= 100.0
                ach[down] = flipped
        finite = np.isfinite(ach)
        np.copyto(ach, np.nan, where=~finite)
        # 3 from green up, else 2 from amber up, else 1; 0 when there is no achievement.
        # Worked out in int8 (an eighth of the memory traffic), widened once at the end.
        status = np.greater_equal(ach, self.amber[:, None]).view(np.int8)
        status += 1
        np.copyto(status, 3, where=ach >= self.green[:, None])
        np.copyto(status, 0, where=np.isnan(ach))
        return ach, status.astype(np.int64)


def achievement_of(actual: float | None, target: float | None, down: bool = False) -> float | None:
    """One value's achievement (%), by the rule of `TreePlan.achievement`: actual ÷ target × 100,
    target ÷ actual × 100 when lower is better; None when it is missing or not finite."""
    if actual is None or target is None:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ach = np.divide(target, actual) if down else np.divide(actual, target)
    value = float(ach) * 100.0
    return value if np.isfinite(value) else None


def _keep(explicit: np.ndarray | None, rows: np.ndarray, derived: np.ndarray) -> np.ndarray:
    if explicit is None:
        return derived
    own = explicit[rows]
    return np.where(np.isnan(own), derived, own)


def _reduce_group(out: np.ndarray, g: _AggGroup, explicit: np.ndarray | None) -> None:
    vals = out[g.children]
    present = ~np.isnan(vals)
    # Weighted values and weights in place: large temporaries cost page faults, not just flops.
    if not g.unit_weights:
        np.multiply(vals, g.weights[:, None], out=vals)
        den = np.add.reduceat(present * g.weights[:, None], g.starts, axis=0)
    else:
        den = np.add.reduceat(present, g.starts, axis=0).astype(float)
    vals[~present] = 0.0
    num = np.add.reduceat(vals, g.starts, axis=0)
    result = np.where(g.is_sum[:, None], num, num / den)
    # den is the count of children with a value for sum and avg parents, and the sum of their
    # weights for weighted averages: 0 when no child has a value (so no separate count is
    # needed). A weighted average whose present children all weigh 0 gives 0/0: missing too.
    result[den == 0] = np.nan
    result[~np.isfinite(result)] = np.nan
    if explicit is not None:
        own = explicit[g.parents]
        result = np.where(np.isnan(own), result, own)
    out[g.parents] = result


def _agg_group(
    parents: list[int],
    child_order: np.ndarray,
    child_start: np.ndarray,
    rollup: np.ndarray,
    weight: list[float],
) -> _AggGroup | None:
    if not parents:
        return None
    p = np.asarray(parents, dtype=np.intp)
    counts = child_start[p + 1] - child_start[p]
    starts = np.zeros(p.size, dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    # The children of every parent, in order: each parent's slice of child_order, concatenated.
    offsets = np.arange(int(counts.sum()), dtype=np.intp) - np.repeat(starts, counts)
    kids = child_order[np.repeat(child_start[p], counts) + offsets]
    # A child's weight counts under a weighted average only (only those weights are read).
    weights = np.ones(kids.size)
    weighted = np.flatnonzero(np.repeat(rollup[p] == "weighted_avg", counts))
    if weighted.size:
        weights[weighted] = np.array([weight[k] for k in kids[weighted].tolist()], dtype=float)
    return _AggGroup(
        parents=p,
        children=kids,
        starts=starts,
        weights=weights,
        is_sum=rollup[p] == "sum",
        unit_weights=bool((weights == 1.0).all()),
    )


def _batch(
    members: list[tuple[int, Formula, tuple[str, ...], list[int]]], recompute: bool
) -> _FormulaBatch:
    """One batch from nodes whose formulas share a shape (children listed in the same order)."""
    _i, formula, ordered, _kids = members[0]
    columns = np.array([kids for _i, _f, _n, kids in members], dtype=np.intp).reshape(
        len(members), -1
    )
    return _FormulaBatch(
        nodes=np.array([i for i, _f, _n, _k in members], dtype=np.intp),
        formula=formula,
        args=[(name, columns[:, k].copy()) for k, name in enumerate(ordered)],
        recompute=recompute,
    )


def _thresholds(values: list[float | None], default: float) -> np.ndarray:
    """A node's own threshold, or the tree's where it has none (None)."""
    out = np.array(values, dtype=object)
    out[out == None] = default  # noqa: E711 (element-wise comparison of an object array)
    return out.astype(float)


def _children_csr(parent_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Children of every node: child_order[child_start[p] : child_start[p + 1]], by position."""
    n = len(parent_idx)
    order = np.argsort(parent_idx, kind="stable")  # roots (-1) first, then grouped by parent
    has_parent = parent_idx >= 0
    child_order = order[n - int(has_parent.sum()) :]
    child_start = np.zeros(n + 1, dtype=np.intp)
    np.cumsum(np.bincount(parent_idx[has_parent], minlength=n), out=child_start[1:])
    return child_order, child_start


def _depths_vectorised(parent_idx: np.ndarray, codes: list[str]) -> np.ndarray:
    """Depth of every node by pointer jumping (log2(depth) numpy steps instead of a walk per
    node). A cycle never reaches a root: then the node-by-node walk finds and names it."""
    depth = (parent_idx >= 0).astype(np.intp)  # distance to `up`
    up = parent_idx.copy()
    for _ in range(max(len(parent_idx), 1).bit_length() + 1):
        live = np.flatnonzero(up >= 0)
        if live.size == 0:
            return depth
        hop = up[live]
        depth[live] += depth[hop]
        up[live] = up[hop]
    return _depths(parent_idx, codes)


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
    fixed: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> dict[str, GrainResult]:
    """Evaluate a tree for every month, quarter and year of its plan.

    `fixed` maps "quarter"/"year" to (rows, actual, target): the period values of rows that
    are given, not aggregated (see kpitree/recompute.py: the unchanged children of the nodes an
    incremental recompute evaluates, whose stored rollups are already right).
    """
    m_actual = plan.evaluate(actual)
    m_target = plan.evaluate(target, keep_explicit=True)
    has_own_target = ~np.isnan(target).all(axis=1) & plan.computed
    results = {
        "month": GrainResult(
            list(months), m_actual, m_target, *plan.achievement(m_actual, m_target)
        )
    }
    # Missing-month masks and zero-filled copies serve both the quarters and the years.
    a_present, t_present = ~np.isnan(m_actual), ~np.isnan(m_target)
    a_filled, t_filled = np.where(a_present, m_actual, 0.0), np.where(t_present, m_target, 0.0)
    a_counts = t_counts = None
    quarter_idx = np.zeros(0, dtype=np.intp)
    for grain in ("quarter", "year"):
        periods, first_idx = _buckets(months, grain, fiscal_year_start)
        if grain == "quarter" and len(first_idx):
            quarter_idx = first_idx
            a_counts = np.add.reduceat(a_present, first_idx, axis=1)
            t_counts = np.add.reduceat(t_present, first_idx, axis=1)
        elif (
            a_counts is not None and t_counts is not None and np.isin(first_idx, quarter_idx).all()
        ):
            # A fiscal year is whole quarters: its counts of months with a value are its
            # quarters' counts added up (integers, so exactly the same numbers).
            pos = np.searchsorted(quarter_idx, first_idx)
            a_counts = np.add.reduceat(a_counts, pos, axis=1)
            t_counts = np.add.reduceat(t_counts, pos, axis=1)
        else:
            a_counts = t_counts = None
        given = (fixed or {}).get(grain)
        a = plan.aggregate(
            m_actual,
            first_idx,
            present=a_present,
            filled0=a_filled,
            counts=a_counts,
            fixed=None if given is None else (given[0], given[1]),
        )
        t = plan.aggregate(
            m_target,
            first_idx,
            present=t_present,
            filled0=t_filled,
            counts=t_counts,
            fixed=None if given is None else (given[0], given[2]),
        )
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
