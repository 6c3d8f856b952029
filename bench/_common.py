"""Shared helpers of the benchmarks: a deterministic KPI tree generator, timing, Django setup.

The benchmarks are plain scripts (`cd /work/main && .venv/bin/python bench/bench_recompute.py`),
so this module also puts the project on sys.path and names the settings module itself.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpi_planner.settings")

# The engine module imports Django's gettext (through kpitree.formula) but never needs
# settings for the pure evaluation, so importing it here is fine before django.setup().
from kpitree.engine import NodeSpec  # noqa: E402

BENCH_DB = "kpi_bench"
PG_SERVER_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
FIRST_MONTH = dt.date(2023, 4, 1)  # fiscal years start in April: 36 months = 12 quarters, 3 years
# (36 months that have ended: actuals of months that have not ended are refused)
N_MONTHS = 36
DEPTH = 6  # levels 0 (roots) to 5 (inputs)

# Formula templates by number of children. Parents whose formula is a ratio take
# time_aggregation="recompute" (the formula is re-applied to the children's quarter and year
# values), the others sum their months like a volume would.
FORMULAS_2 = ("{a} * {b} / 100", "{a} / {b} * 100", "{a} + {b}")
FORMULAS_3 = ("({a} + {b}) / {c}", "{a} * {b} / 100 * {c}")
RATIO_TEMPLATES = frozenset({"{a} / {b} * 100", "({a} + {b}) / {c}"})


@dataclass
class GeneratedTree:
    """A generated tree: the specs the engine reads plus what a hand-written evaluator needs."""

    specs: list[NodeSpec]
    months: list[dt.date]
    actual: np.ndarray  # nodes × months, NaN = missing; computed rows are NaN
    target: np.ndarray  # nodes × months; some computed nodes carry explicit targets
    depth: np.ndarray  # level of each node (0 = root)
    children: list[list[int]]  # ordered children of each node (formula args a, b, c in order)
    template: list[str | None]  # formula template of each formula node, else None
    level_sizes: list[int] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.specs)

    @property
    def input_rows(self) -> np.ndarray:
        return np.flatnonzero([s.rollup == "input" for s in self.specs])


def month_list(first: dt.date = FIRST_MONTH, count: int = N_MONTHS) -> list[dt.date]:
    out, y, m = [], first.year, first.month
    for _ in range(count):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _level_sizes(n_nodes: int, depth: int) -> list[int]:
    """Level sizes growing geometrically from one root so that they add up to n_nodes."""
    lo, hi = 1.0, float(n_nodes)
    for _ in range(100):  # bisection on the branching factor b: sum(b**k, k < depth) == n
        b = (lo + hi) / 2
        if sum(b**k for k in range(depth)) < n_nodes:
            lo = b
        else:
            hi = b
    sizes = [max(1, round(lo**k)) for k in range(depth - 1)]
    sizes.append(n_nodes - sum(sizes))
    return sizes


def generate_tree(
    n_nodes: int, *, seed: int = 42, depth: int = DEPTH, n_months: int = N_MONTHS
) -> GeneratedTree:
    """A deterministic tree of `n_nodes` nodes on `depth` levels with inputs for `n_months`.

    Every node above the last level is computed: about 40 % `sum`, 30 % `weighted_avg` and 30 %
    `formula` parents (two or three children, e.g. `a * b / 100`, `(a + b) / c`). The last level
    holds the inputs. Actuals miss about 5 % of input cells and contain a few zeros (so that
    ratio formulas meet divisions by zero); inputs have targets, and about 10 % of the computed
    nodes carry explicit targets for some months (the engine keeps them and derives the rest).
    """
    if n_nodes < 100:
        raise ValueError("generate_tree needs at least 100 nodes for 6 levels of mixed parents")
    rng = np.random.default_rng(seed)
    sizes = _level_sizes(n_nodes, depth)
    specs: list[NodeSpec] = []
    depth_of: list[int] = []
    children: list[list[int]] = []
    template: list[str | None] = []

    # Decide top-down how many children each parent gets, level by level.
    level_nodes: list[list[int]] = [[0]]
    parent_of: list[int | None] = [None]
    rule_of: list[str] = []
    for d in range(depth - 1):
        parents = level_nodes[d]
        n_children = sizes[d + 1]
        rules = rng.choice(["sum", "weighted_avg", "formula"], size=len(parents), p=[0.4, 0.3, 0.3])
        fan = np.zeros(len(parents), dtype=int)
        is_formula = rules == "formula"
        fan[is_formula] = rng.integers(2, 4, size=int(is_formula.sum()))
        # The other parents share the remaining children (at least one each, at random).
        while True:
            others = np.flatnonzero(~is_formula)
            rest = n_children - int(fan[is_formula].sum())
            if others.size and rest >= others.size:
                break
            # Too few children for this many formulas (small trees): turn one into a sum.
            k = int(np.flatnonzero(is_formula)[0])
            is_formula[k] = False
            rules[k] = "sum"
            fan[k] = 0
        fan[others] = 1 + rng.multinomial(rest - others.size, np.full(others.size, 1 / others.size))
        rule_of.extend(str(r) for r in rules)
        next_level: list[int] = []
        for p, count in zip(parents, fan, strict=True):
            for _ in range(int(count)):
                next_level.append(len(parent_of))
                parent_of.append(p)
        level_nodes.append(next_level)
    rule_of.extend("input" for _ in level_nodes[-1])

    n = len(parent_of)
    assert n == n_nodes, (n, n_nodes)
    children = [[] for _ in range(n)]
    for i, p in enumerate(parent_of):
        if p is not None:
            children[p].append(i)
    depth_of = [0] * n
    for d, nodes in enumerate(level_nodes):
        for i in nodes:
            depth_of[i] = d

    code = [f"n{i}" for i in range(n)]
    weights = rng.choice([0.5, 1.0, 2.0, 3.0], size=n)
    input_aggs = rng.choice(["sum", "avg", "last"], size=n, p=[0.6, 0.3, 0.1])
    directions = rng.choice(["up", "down"], size=n, p=[0.85, 0.15])
    for i in range(n):
        rule = rule_of[i]
        formula, tmpl = "", None
        if rule == "formula":
            kids = children[i]
            pool = FORMULAS_2 if len(kids) == 2 else FORMULAS_3
            tmpl = pool[int(rng.integers(len(pool)))]
            formula = tmpl.format(**dict(zip("abc", (code[c] for c in kids), strict=False)))
            time_agg = "recompute" if tmpl in RATIO_TEMPLATES else "sum"
        elif rule == "sum":
            time_agg = "sum"
        elif rule == "weighted_avg":
            time_agg = "avg"
        else:
            time_agg = str(input_aggs[i])
        specs.append(
            NodeSpec(
                code=code[i],
                parent=None if parent_of[i] is None else code[parent_of[i]],
                rollup=rule,
                formula=formula,
                weight=float(weights[i]),
                time_aggregation=time_agg,
                direction=str(directions[i]),
                green=None if i % 7 else 110.0,  # a few nodes with their own thresholds
                amber=None if i % 7 else 95.0,
            )
        )
        template.append(tmpl)

    is_input = np.array([r == "input" for r in rule_of])
    actual = np.full((n, n_months), np.nan)
    target = np.full((n, n_months), np.nan)
    k = int(is_input.sum())
    vals = rng.uniform(1.0, 1000.0, size=(k, n_months)).round(2)
    vals[rng.random((k, n_months)) < 0.01] = 0.0
    vals[rng.random((k, n_months)) < 0.05] = np.nan
    actual[is_input] = vals
    tvals = (vals * rng.uniform(0.8, 1.3, size=(k, n_months))).round(2)
    tvals[rng.random((k, n_months)) < 0.1] = np.nan
    target[is_input] = rng.uniform(1.0, 1000.0, size=(k, n_months)).round(2)
    target[is_input] = np.where(np.isnan(tvals), target[is_input], tvals)
    own = np.flatnonzero(~is_input & (rng.random(n) < 0.1))
    explicit = rng.uniform(1.0, 1000.0, size=(own.size, n_months)).round(2)
    explicit[rng.random((own.size, n_months)) < 0.5] = np.nan
    target[own] = explicit

    return GeneratedTree(
        specs=specs,
        months=month_list(FIRST_MONTH, n_months),
        actual=actual,
        target=target,
        depth=np.asarray(depth_of, dtype=np.intp),
        children=children,
        template=template,
        level_sizes=sizes,
    )


# -- timing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of the runs (best, median) and the CPU time of the best-CPU run.

    On this shared 2-core machine other sessions' work preempts a run now and then: wall time
    then counts their work too, CPU time (time.process_time) only this process's. The ratios
    are judged on CPU time; absolute figures are wall time.
    """

    best: float
    median: float
    runs: tuple[float, ...]
    cpu_best: float = 0.0
    cpu_median: float = 0.0

    def __str__(self) -> str:
        return (
            f"wall best {self.best:.3f} s, median {self.median:.3f} s; "
            f"CPU best {self.cpu_best:.3f} s, median {self.cpu_median:.3f} s; of {len(self.runs)}"
        )


def _timing(wall: list[float], cpu: list[float]) -> Timing:
    return Timing(min(wall), statistics.median(wall), tuple(wall), min(cpu), statistics.median(cpu))


def time_it(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> Timing:
    """Best and median time of `repeat` calls (after `warmup` untimed calls)."""
    return time_interleaved({"fn": fn}, repeat=repeat, warmup=warmup)["fn"]


def time_interleaved(
    fns: dict[str, Callable[[], object]], *, repeat: int = 9, warmup: int = 1
) -> dict[str, Timing]:
    """Like time_it for several functions, run in turns (a, b, a, b, ...).

    On a shared 2-core machine the load changes from second to second; alternating the runs
    exposes every function to the same conditions, so their ratio is fair.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return {name: _timing(wall[name], cpu[name]) for name in fns}


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


# -- Django against a throwaway PostgreSQL database ------------------------------------------------


def bench_database_url(name: str = BENCH_DB) -> str:
    return f"{PG_SERVER_URL}/{name}"


def recreate_database(name: str = BENCH_DB) -> None:
    """Drop and create the throwaway database (connects to the server's `postgres` database)."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str = BENCH_DB) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(database_url: str, *, migrate: bool = False) -> None:
    """Point Django at `database_url` and set it up (optionally migrating the database).

    Celery: the benchmarks never reach a broker. Tasks run eagerly if anything enqueues one
    (CELERY_TASK_ALWAYS_EAGER=1); the write benchmark additionally replaces
    `recompute_tree.delay` with a no-op so that no recompute runs inside the timed write.
    """
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    os.environ.setdefault("DEBUG", "1")  # DEBUG is on by default; keep query logging off below
    import django

    django.setup()
    # DEBUG=True makes Django keep every query in connection.queries: harmless for a few
    # thousand statements, but keep it off so that memory figures are the worker's.
    from django.conf import settings

    settings.DEBUG = False
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def store_tree(gen: GeneratedTree, *, code: str = "BENCH", with_values: bool = True) -> int:
    """Write a generated tree (nodes, and its actuals and targets) with Django; returns its id.

    Nodes are created level by level with bulk_create (a parent needs its id first); values go
    in through kpitree.bulk.insert_rows (COPY), as setup, not through the service being timed.
    """
    from django.db import transaction
    from django.utils import timezone

    from kpitree.bulk import insert_rows
    from kpitree.models import Actual, Node, Target, Tree

    months = gen.months
    with transaction.atomic():
        tree = Tree.objects.create(
            code=code, name=f"bench {gen.n} nodes", start_month=months[0], end_month=months[-1]
        )
        ids = [0] * gen.n
        position = {s.code: i for i, s in enumerate(gen.specs)}
        for d in range(int(gen.depth.max()) + 1):
            at_level = np.flatnonzero(gen.depth == d)
            objs = []
            for i in at_level:
                s = gen.specs[i]
                objs.append(
                    Node(
                        tree=tree,
                        code=s.code,
                        name=s.code,
                        kind="kgi" if s.parent is None else "kpi",
                        parent_id=None if s.parent is None else ids[position[s.parent]],
                        rollup=s.rollup,
                        formula=s.formula,
                        weight=s.weight,
                        time_aggregation=s.time_aggregation,
                        direction=s.direction,
                        green_threshold=s.green,
                        amber_threshold=s.amber,
                        position=int(i),
                    )
                )
            for i, obj in zip(
                at_level, Node.objects.bulk_create(objs, batch_size=2000), strict=True
            ):
                ids[int(i)] = obj.pk
        if with_values:
            now = timezone.now()
            a_rows, t_rows = [], []
            for i in range(gen.n):
                for j, month in enumerate(months):
                    a, t = gen.actual[i, j], gen.target[i, j]
                    if not np.isnan(a):
                        a_rows.append((ids[i], month, float(a), "", "api", now, None))
                    if not np.isnan(t):
                        t_rows.append((ids[i], month, float(t), "", now, None))
            insert_rows(
                Actual,
                [
                    "node",
                    "period",
                    "value",
                    "comment",
                    "channel",
                    "updated_at",
                    "updated_by",
                ],
                a_rows,
            )
            insert_rows(
                Target, ["node", "period", "value", "rationale", "updated_at", "updated_by"], t_rows
            )
    return tree.pk


def run_on_fresh_database(db_name: str, run: Callable[[], int]) -> int:
    """Create the benchmark database `db_name`, set Django up on it (migrated), call `run`, and
    drop the database whatever happens; returns what `run` returns (the exit status)."""
    recreate_database(db_name)
    try:
        setup_django(bench_database_url(db_name), migrate=True)
        return run()
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(db_name)
