"""Benchmark of the nightly statements sweep (issue 14, "money"): `money.tasks.compute_statements()`
over 200 engagements × 36 approved months with 3 SLA rules each — 7,200 statements.

What is timed:
- first run: the task on a database without statements (creates 7,200 statements, their
  21,600+ lines and 7,200 events);
- second run: the task again, nothing changed (7,200 unchanged: read, compared, nothing written);
- floor: numpy on the same achievements — `money.engine.band_matrix` over the same bands, times
  the fee, held within the cap, rounded — i.e. the arithmetic of the statements with no database
  and no objects. Printed as `ratio = task / floor`, with the statements written per second.

Data (generated, deterministic): 200 engagements (fee 800,000–1,500,000 yen), each with its own
tree of 3 KPIs over 36 months (2023-04 … 2026-03); Rollup rows written directly in bulk (as the
recompute would leave them; achievement 70–125 %, a few months missing), every month's
Submission approved, and one adopted rule set per engagement — saved and adopted through
money.services before any month is approved, so adopting computes nothing — with the issue's
bands (≥110 %: +5 %, 90–100 %: −3 %, <90 %: −8 %) and a cap of ±10 % of the fee.

Run: cd /work/main && DATABASE_URL=postgres://postgres@127.0.0.1:5432/kpi_planner_bench \
  .venv/bin/python bench/bench_statements.py
With DATABASE_URL set, that (migrated) database is used and the bench's own rows (engagements
coded BENCH-ST-…) are replaced; without it, a throwaway PostgreSQL database
`kpi_bench_statements` is created, migrated and dropped. `--profile` prints where the first run's
time goes (cProfile, the project's functions and the database driver). Exit status 1 when the
first run takes longer than TARGET_SECONDS.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import os
import pstats
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # puts the project on sys.path first
import numpy as np

DB_NAME = "kpi_bench_statements"
N_ENGAGEMENTS = 200
N_RULES = 3
FIRST = dt.date(2023, 4, 1)
N_MONTHS = 36
PREFIX = "BENCH-ST-"
TARGET_SECONDS = 5.0
CAP_PCT = Decimal(10)
BANDS = [  # the bands: (lower, upper, % of the fee); a gap from 100 to 110
    ("110", None, "5"),
    ("90", "100", "-3"),
    (None, "90", "-8"),
]


@dataclass
class Data:
    engagement_ids: list[int]
    fees: np.ndarray  # per engagement
    achievement: np.ndarray  # engagements × months × rules, NaN = missing


def _clear_bench_rows() -> None:
    """Remove what an earlier run of this bench left in a kept database (its engagements only)."""
    from engagements.models import Engagement, Submission, Vendor
    from kpitree.models import Node, Rollup, Tree
    from money.models import Rule, RuleSet, Statement, StatementEvent, StatementLine

    engagements = Engagement.objects.filter(code__startswith=PREFIX)
    statements = Statement.objects.filter(engagement__in=engagements)
    StatementEvent.objects.filter(statement__in=statements).delete()
    StatementLine.objects.filter(statement__in=statements).delete()
    statements.delete()
    rule_sets = RuleSet.objects.filter(engagement__in=engagements)
    Rule.objects.filter(rule_set__in=rule_sets).delete()
    rule_sets.delete()
    Submission.objects.filter(engagement__in=engagements).delete()
    trees = Tree.objects.filter(code__startswith=PREFIX)
    Rollup.objects.filter(tree__in=trees).delete()
    Node.all_objects.filter(tree__in=trees, parent__isnull=False).delete()
    Node.all_objects.filter(tree__in=trees).delete()
    trees.delete()
    engagements.delete()
    Vendor.objects.filter(code="bench-st").delete()


def build() -> Data:
    from django.db import transaction
    from django.utils import timezone

    from engagements.models import Engagement, Role, Submission, SubmissionStatus, User, Vendor
    from kpitree.models import Node, Rollup, Tree
    from money.services import rule_set_adopt, rule_set_save

    rng = np.random.default_rng(14)
    months = common.month_list(FIRST, N_MONTHS)
    last = months[-1]
    _clear_bench_rows()
    manager = User.objects.filter(username="bench-st-manager").first()
    if manager is None:
        manager = User.objects.create(username="bench-st-manager", role=Role.MANAGER)
    vendor = Vendor.objects.create(code="bench-st", name="株式会社ベンチ")
    fees = rng.integers(8, 16, size=N_ENGAGEMENTS) * 100_000
    with transaction.atomic():
        engagements = Engagement.objects.bulk_create(
            Engagement(
                code=f"{PREFIX}{i:03d}",
                name=f"bench {i}",
                vendor=vendor,
                outsourcing_type="outbound_call",
                phase="improvement",
                start_month=FIRST,
                end_month=last,
                monthly_fee=int(fees[i]),
            )
            for i in range(N_ENGAGEMENTS)
        )
        trees = Tree.objects.bulk_create(
            Tree(code=f"{PREFIX}{i:03d}", name=f"bench {i}", start_month=FIRST, end_month=last)
            for i in range(N_ENGAGEMENTS)
        )
        roots = Node.objects.bulk_create(
            Node(tree=t, code="kgi", name="KGI", kind="kgi", rollup="sum") for t in trees
        )
        kpis = Node.objects.bulk_create(
            Node(
                tree=t,
                code=f"k{r}",
                name=f"KPI {r}",
                parent=root,
                engagement=e,
                position=r,
            )
            for e, t, root in zip(engagements, trees, roots, strict=True)
            for r in range(N_RULES)
        )
    # Rules first, while no month is approved: adopting computes no statement.
    bands = [{"lower": lo, "upper": up, "pct_of_fee": pct} for lo, up, pct in BANDS]
    for i, e in enumerate(engagements):
        rule_set = rule_set_save(
            user=manager,
            engagement=e,
            data={
                "name": "SLA",
                "effective_from": f"{FIRST:%Y-%m}",
                "cap_pct": str(CAP_PCT),
                "rules": [
                    {"node": n.pk, "bands": bands} for n in kpis[i * N_RULES : (i + 1) * N_RULES]
                ],
            },
        )
        rule_set_adopt(user=manager, rule_set=rule_set)
    achievement = rng.uniform(70.0, 125.0, size=(N_ENGAGEMENTS, N_MONTHS, N_RULES)).round(1)
    achievement[rng.random(achievement.shape) < 0.02] = np.nan
    now = timezone.now()
    with transaction.atomic():
        rollups = []
        for i in range(N_ENGAGEMENTS):
            for r in range(N_RULES):
                node = kpis[i * N_RULES + r]
                for j, month in enumerate(months):
                    a = achievement[i, j, r]
                    missing = bool(np.isnan(a))
                    rollups.append(
                        Rollup(
                            tree_id=node.tree_id,
                            node=node,
                            grain="month",
                            period=month,
                            actual=None if missing else float(a),
                            target=None if missing else 100.0,
                            achievement=None if missing else float(a),
                            status="none" if missing else ("green" if a >= 100 else "red"),
                            computed_at=now,
                        )
                    )
        Rollup.objects.bulk_create(rollups, batch_size=5000)
        Submission.objects.bulk_create(
            (
                Submission(engagement=e, period=m, status=SubmissionStatus.APPROVED)
                for e in engagements
                for m in months
            ),
            batch_size=5000,
        )
    return Data(
        engagement_ids=[e.pk for e in engagements], fees=fees.astype(float), achievement=achievement
    )


def floor(data: Data) -> np.ndarray:
    """The month totals by numpy: band percentages, times the fee, capped, rounded half away
    from zero."""
    from money.engine import band_matrix

    lower = np.array([np.nan if lo is None else float(lo) for lo, _u, _p in BANDS])
    upper = np.array([np.nan if up is None else float(up) for _l, up, _p in BANDS])
    pct = np.array([float(p) for _l, _u, p in BANDS])
    flat = data.achievement.reshape(-1)
    pct_of_fee = band_matrix(flat, lower, upper, pct).reshape(data.achievement.shape)
    fee = data.fees[:, None]
    total = (pct_of_fee.sum(axis=2)) * fee / 100.0
    limit = fee * float(CAP_PCT) / 100.0
    capped = np.clip(total, -limit, limit)
    return np.sign(capped) * np.floor(np.abs(capped) + 0.5)


def clear_statements(ids: list[int]) -> None:
    from money.models import Statement, StatementEvent, StatementLine

    statements = Statement.objects.filter(engagement_id__in=ids)
    StatementEvent.objects.filter(statement__in=statements).delete()
    StatementLine.objects.filter(statement__in=statements).delete()
    statements.delete()


def check(data: Data, expected: np.ndarray) -> bool:
    """The statements written equal the numpy totals."""
    from money.models import Statement

    index = {pk: i for i, pk in enumerate(data.engagement_ids)}
    got = np.full(expected.shape, np.nan)
    for e, period, adjustment in Statement.objects.filter(
        engagement_id__in=data.engagement_ids
    ).values_list("engagement_id", "period", "adjustment"):
        j = (period.year - FIRST.year) * 12 + period.month - FIRST.month
        got[index[e], j] = adjustment
    return bool(np.array_equal(got, expected))


def _sql_timer(log: list[tuple[float, str]]):
    def wrapper(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            log.append((time.perf_counter() - t, " ".join(sql.split()[:4])[:70]))

    return wrapper


def profile(data: Data) -> None:
    """Where the time of each run goes: the SQL statements (time in the driver, summed by their
    first words) and cProfile's heaviest functions."""
    from django.db import connection

    from money import tasks

    for label, clear in (("first run", True), ("second run", False)):
        if clear:
            clear_statements(data.engagement_ids)
        log: list[tuple[float, str]] = []
        profiler = cProfile.Profile()
        w, c = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(_sql_timer(log)):
            profiler.enable()
            tasks.compute_statements()
            profiler.disable()
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        sql = sum(d for d, _s in log)
        print(f"\n-- {label}: {wall:.2f} s wall, {cpu:.2f} s CPU, {sql:.2f} s in {len(log)} SQL")
        for d, text in sorted(log, reverse=True)[:6]:
            print(f"   {d:6.3f} s  {text}")
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(
            r"money/|django/db/models/(query|base|sql/compiler)\.py|psycopg/(cursor|types/array)",
            28,
        )
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def run() -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from money import tasks

    start = time.perf_counter()
    data = build()
    print(
        f"data: {N_ENGAGEMENTS} engagements × {N_MONTHS} months × {N_RULES} rules "
        f"({time.perf_counter() - start:.1f} s to build)"
    )
    n = N_ENGAGEMENTS * N_MONTHS
    expected = floor(data)
    floor_t = common.time_it(lambda: floor(data), repeat=20, warmup=2)

    first_runs: list[float] = []
    first_cpu: list[float] = []
    result: dict = {}
    queries = 0
    for _ in range(3):
        clear_statements(data.engagement_ids)
        w, c = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as captured:
            result = tasks.compute_statements()
        first_runs.append(time.perf_counter() - w)
        first_cpu.append(time.process_time() - c)
        queries = len(captured)
        assert result["created"] == n, result
    ok_values = check(data, expected)
    second_runs, second_cpu = [], []
    second_queries = 0
    for _ in range(3):
        w, c = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as captured:
            again = tasks.compute_statements()
        second_runs.append(time.perf_counter() - w)
        second_cpu.append(time.process_time() - c)
        second_queries = len(captured)
        assert again["unchanged"] == n and again["created"] == again["updated"] == 0, again

    first, second = min(first_runs), min(second_runs)
    fl = floor_t.best
    print(f"floor (numpy band_matrix + cap, {n:,} months): {fl * 1000:.2f} ms  [{floor_t}]")
    print(
        f"first run  (created {n:,}): {first:.2f} s wall (runs {', '.join(f'{x:.2f}' for x in first_runs)}), "
        f"CPU {min(first_cpu):.2f} s, {queries} queries; "
        f"{n / first:,.0f} statements written/s; ratio = task / floor = {first / fl:,.0f}"
    )
    print(
        f"second run (unchanged {n:,}): {second:.2f} s wall (runs {', '.join(f'{x:.2f}' for x in second_runs)}), "
        f"CPU {min(second_cpu):.2f} s, {second_queries} queries; "
        f"{n / second:,.0f} statements checked/s; ratio = task / floor = {second / fl:,.0f}"
    )
    print(f"totals equal the numpy floor's: {ok_values}")
    ok = first <= TARGET_SECONDS and ok_values
    print(f"first run ≤ {TARGET_SECONDS:.0f} s and totals equal: {common.verdict(ok)}")
    if "--profile" in sys.argv:
        profile(data)
    return 0 if ok else 1


def main() -> int:
    url = os.environ.get("DATABASE_URL")
    if url:
        common.setup_django(url)
        return run()
    return common.run_on_fresh_database(DB_NAME, run)


if __name__ == "__main__":
    sys.exit(main())
