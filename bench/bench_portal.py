"""Benchmark of saving a vendor's month in the portal (issue "Vendor portal", performance).

What is timed, on a 60-KPI engagement, in a throwaway PostgreSQL database:
- floor: the bare bulk insert of the same 60 Actual rows (one `bulk_create` in a transaction);
- save: `portal.services.month_save` — what the grid's "save draft" runs: normalising the
  typed numbers, `kpitree.services.actuals_record` (validation of every row, the lock check,
  select-for-update of existing rows, insert, 60 audit rows, the tree's version bump), the
  month's Submission row and the status of its actuals, all in one transaction;
- resave: the same month saved again with every value changed (60 updates + 60 audit rows);
- page: the whole HTTP POST of the grid through Django (session, CSRF-exempt test client,
  form parsing, the save, the redirect).
The recompute that a save enqueues on commit runs in a worker, not in the request: it is
replaced by a no-op here (bench_recompute.py measures it).

Targets: a save under 0.1 s, and at most 15× the bare insert (the save does ~20 statements and
writes twice the rows: values and audit).

Run: cd /work/main && .venv/bin/python bench/bench_portal.py   (exit status 1 if a target is
missed). Needs PostgreSQL at 127.0.0.1:5432 (user postgres); creates and drops `kpi_bench_portal`.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # puts the project on sys.path first

N_KPIS = 60
DB_NAME = "kpi_bench_portal"
TARGET_SECONDS = 0.1
TARGET_RATIO = 15.0
PERIOD = dt.date(2026, 10, 1)


@dataclass(frozen=True)
class Stats:
    best: float
    median: float
    runs: int

    def __str__(self) -> str:
        return (
            f"median {self.median * 1000:6.1f} ms (best {self.best * 1000:.1f} ms of {self.runs})"
        )


def measure(cases: dict, *, repeat: int = 15, warmup: int = 2) -> dict[str, Stats]:
    """Run the cases in turns (a, b, c, a, b, c, ...) so that a busy moment of this shared
    machine hits them all alike; each case's setup runs untimed before each of its runs.
    Wall time: the work is mostly in the database server, which CPU time would not see."""
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(warmup + repeat):
        for name, (setup, fn) in cases.items():
            setup()
            start = time.perf_counter()
            fn()
            if i >= warmup:
                runs[name].append(time.perf_counter() - start)
    return {n: Stats(min(r), statistics.median(r), len(r)) for n, r in runs.items()}


def main() -> int:
    return common.run_on_fresh_database(DB_NAME, run)


def run() -> int:
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    import kpitree.tasks
    from engagements.models import Engagement, Role, Submission, User, Vendor
    from kpitree.models import Actual, Node, Tree, ValueAudit
    from portal import services

    kpitree.tasks.recompute_tree.delay = lambda *args, **kwargs: None  # see the docstring

    vendor = Vendor.objects.create(code="callnavi", name="株式会社コールナビ")
    user = User(username="vendor", role=Role.VENDOR, vendor=vendor)
    user.set_password("bench-pw")
    user.save()
    engagement = Engagement.objects.create(
        code="CALL-BENCH",
        name="bench",
        vendor=vendor,
        outsourcing_type="outbound_call",
        phase="improvement",
        start_month=dt.date(2026, 4, 1),
        end_month=dt.date(2027, 3, 1),
    )
    tree = Tree.objects.create(
        code="BENCH", name="bench", start_month=dt.date(2026, 4, 1), end_month=dt.date(2027, 3, 1)
    )
    kgi = Node.objects.create(tree=tree, code="kgi", name="KGI", kind="kgi", rollup="sum")
    nodes = Node.objects.bulk_create(
        Node(
            tree=tree, code=f"k{i}", name=f"KPI {i}", parent=kgi, engagement=engagement, position=i
        )
        for i in range(N_KPIS)
    )

    def clear() -> None:
        ValueAudit.objects.all().delete()
        Actual.objects.all().delete()
        Submission.objects.all().delete()

    def floor() -> None:
        now = timezone.now()
        with transaction.atomic():
            Actual.objects.bulk_create(
                Actual(
                    node=n,
                    period=PERIOD,
                    value=1000 + i,
                    comment="理由",
                    channel="web",
                    updated_at=now,
                    updated_by=user,
                )
                for i, n in enumerate(nodes)
            )

    def entries(offset: int) -> list:
        return [
            services.Entry(node_id=n.pk, value=f"{1000 + i + offset:,}", why="理由")
            for i, n in enumerate(nodes)
        ]

    def save() -> None:
        services.month_save(user=user, engagement=engagement, period=PERIOD, entries=entries(0))

    resave_offset = iter(range(1, 1_000_000))

    def resave() -> None:
        services.month_save(
            user=user, engagement=engagement, period=PERIOD, entries=entries(next(resave_offset))
        )

    client = Client(HTTP_HOST="localhost")  # an allowed host of the default settings
    client.force_login(user)
    url = f"/portal/engagements/{engagement.code}/{PERIOD:%Y-%m}/"

    def page() -> None:
        post = {f"value-{n.pk}": str(1000 + i) for i, n in enumerate(nodes)}
        response = client.post(url, {**post, "do": "save"})
        assert response.status_code == 302, response.status_code

    def prepare_resave() -> None:
        if not Actual.objects.exists():
            save()

    cases = {
        "floor": (clear, floor),
        "save": (clear, save),
        "resave": (prepare_resave, resave),
        "page": (clear, page),
    }
    results = measure(cases)
    t_floor, t_save, t_resave, t_page = (results[k] for k in ("floor", "save", "resave", "page"))
    clear()
    save()
    assert Actual.objects.count() == N_KPIS and ValueAudit.objects.count() == N_KPIS

    ratio_save = t_save.median / t_floor.median
    ratio_resave = t_resave.median / t_floor.median
    ratio_page = t_page.median / t_floor.median
    ok_seconds = t_save.median < TARGET_SECONDS and t_page.median < TARGET_SECONDS
    ok_ratio = ratio_save <= TARGET_RATIO
    print(f"Saving a {N_KPIS}-KPI month (PostgreSQL)")
    print(f"  floor  bare bulk insert of {N_KPIS} rows: {t_floor}")
    print(f"  save   month_save, new values:          {t_save}  ratio {ratio_save:.1f}×")
    print(f"  resave month_save, all values changed:  {t_resave}  ratio {ratio_resave:.1f}×")
    print(f"  page   HTTP POST of the grid:           {t_page}  ratio {ratio_page:.1f}×")
    print(
        f"  target save and page < {TARGET_SECONDS:.1f} s: {common.verdict(ok_seconds)}; "
        f"save ≤ {TARGET_RATIO:.0f}× floor: {common.verdict(ok_ratio)}"
    )
    return 0 if ok_seconds and ok_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
