"""Benchmark of the scorecard dashboards (issue 6, "Performance").

Targets:
1. server time of the SV overview with 200 engagements at most 3× that with 20;
2. server time of an engagement scorecard with 300 KPIs × 36 months at most 3× that with 30;
3. under a local load of 16 concurrent clients against a real server (gunicorn on 127.0.0.1, a
   bounded number of requests), the p95 latency is printed with the error count, which must be 0.

"Server time" is a request through Django's full stack in this process (middleware, session,
views, templates), timed with django.test.Client. On this shared machine other sessions preempt a
run now and then, so each figure is the best of several runs and the ratios are judged on CPU
time (time.process_time, this process only); wall time is printed beside it.

Data (generated, deterministic): 200 engagements of 20 vendors with 8 KPIs each (two per
perspective) and 36 months of actuals and targets; a viewer bound to the first vendor sees 20 of
them, a supervisor all of them (and two more of another vendor, which own 30 and 300 KPIs with
36 months each, for the engagement scorecard). Rollups are
materialised by kpitree.services.tree_recompute, snapshots and forecasts by scorecard.services,
as the worker would.

Run: cd /work/main && .venv/bin/python bench/bench_scorecard.py   (exit status 1 when a target is
missed). Uses PostgreSQL at 127.0.0.1:5432 (user postgres), in a throwaway database
`kpi_bench_scorecard` it creates and drops; falls back to a temporary SQLite file when no
PostgreSQL answers.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpi_planner.settings")

DB_NAME = "kpi_bench_scorecard"
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
MAX_RATIO = 3.0
CLIENTS = 16
REQUESTS_PER_CLIENT = 12  # bounded: 192 requests in all
FIRST = dt.date(2023, 4, 1)
MONTHS = 36
LAST = dt.date(2026, 3, 1)  # the 36th month of data
PLAN_END = dt.date(2026, 9, 1)  # the plan goes on: the last six months are forecast
PERSPECTIVES = ("financial", "customer", "process", "learning")


# -- database --------------------------------------------------------------------------------------


def database_url() -> tuple[str, Callable[[], None]]:
    """A fresh database and a function that removes it."""
    try:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')

        def drop() -> None:
            with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

        return f"{PG_SERVER}/{DB_NAME}", drop
    except Exception as exc:  # no PostgreSQL here: a SQLite file does the same job, slower
        print(f"(PostgreSQL unavailable: {exc.__class__.__name__}; using SQLite)")
        folder = tempfile.mkdtemp(prefix="bench_scorecard_")
        path = Path(folder) / "bench.sqlite3"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="bench_scorecard_var_")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False  # keep query logging off in this process
    call_command("migrate", verbosity=0, interactive=False)


# -- data ------------------------------------------------------------------------------------------


def months() -> list[dt.date]:
    from kpitree import engine

    return engine.month_range(FIRST, LAST)


def make_tree(code: str):
    from kpitree.models import Tree

    return Tree.objects.create(code=code, name=code, start_month=FIRST, end_month=PLAN_END)


def add_kpis(tree, owners: list[tuple[object, int]], seed: int) -> None:
    """`count` KPIs for each (engagement, count), with 36 months of actuals and targets."""
    import numpy as np
    from django.utils import timezone

    from kpitree.bulk import insert_rows
    from kpitree.models import Actual, Node, Target

    rng = np.random.default_rng(seed)
    nodes = []
    for engagement, count in owners:
        for i in range(count):
            nodes.append(
                Node(
                    tree=tree,
                    code=f"{engagement.code}-k{i}",
                    name=f"KPI {i}",
                    engagement=engagement,
                    perspective=PERSPECTIVES[i % 4],
                    weight=float(1 + i % 3),
                    importance=1 + i % 5,
                    unit="件",
                    direction="down" if i % 7 == 6 else "up",
                    time_aggregation="avg" if i % 3 == 2 else "sum",
                    template_code=f"bench.k{i % 8}",
                    position=i,
                )
            )
    nodes = Node.objects.bulk_create(nodes, batch_size=2000)
    now = timezone.now()
    actual_rows, target_rows = [], []
    for node in nodes:
        level = rng.uniform(50, 5000)
        trend = rng.normal(0.002, 0.01)
        for j, month in enumerate(months()):
            target = round(level * (1 + 0.01 * j), 2)
            value = round(level * (1 + trend * j) * rng.normal(1, 0.08), 2)
            target_rows.append((node.pk, month, target, "agreement", now, None))
            actual_rows.append(
                (node.pk, month, value, "前月比の変動要因をコメント", "api", now, None)
            )
    insert_rows(
        Actual,
        ["node", "period", "value", "comment", "channel", "updated_at", "updated_by"],
        actual_rows,
    )
    insert_rows(
        Target, ["node", "period", "value", "rationale", "updated_at", "updated_by"], target_rows
    )


def build_data() -> dict:
    from engagements.models import Engagement, Role, Submission, User, Vendor
    from kpitree.recompute import tree_recompute
    from scorecard.services import snapshot_engagements_for_tree

    vendors = Vendor.objects.bulk_create(
        [Vendor(code=f"v{i:02d}", name=f"外注先{i:02d}") for i in range(20)]
    )
    engagements = Engagement.objects.bulk_create(
        [
            Engagement(
                code=f"E{i:03d}",
                name=f"契約{i:03d}",
                vendor=vendors[0 if i < 20 else 1 + i % 19],
                outsourcing_type="support",
                phase=("launch", "improvement", "expansion")[i % 3],
                start_month=FIRST,
                end_month=LAST,
                monthly_fee=500_000 + 10_000 * i,
            )
            for i in range(200)
        ]
    )
    Submission.objects.bulk_create(
        [
            Submission(
                engagement=e,
                period=LAST,
                status="submitted",
                submitted_at=dt.datetime(2026, 4, 5, tzinfo=dt.UTC),
            )
            for e in engagements
        ]
    )
    overview_tree = make_tree("OVERVIEW")
    add_kpis(overview_tree, [(e, 8) for e in engagements], seed=1)
    other = Vendor.objects.create(code="vk", name="外注先K")
    k30 = Engagement.objects.create(
        code="K30",
        name="30 KPIs",
        vendor=other,
        outsourcing_type="other",
        phase="launch",
        start_month=FIRST,
        end_month=LAST,
    )
    k300 = Engagement.objects.create(
        code="K300",
        name="300 KPIs",
        vendor=other,
        outsourcing_type="other",
        phase="launch",
        start_month=FIRST,
        end_month=LAST,
    )
    kpi_tree = make_tree("KPIS")
    add_kpis(kpi_tree, [(k30, 30), (k300, 300)], seed=2)
    started = time.perf_counter()
    for tree in (overview_tree, kpi_tree):
        tree_recompute(tree_id=tree.pk)
        snapshot_engagements_for_tree(tree.pk)  # and, on commit, the forecasts (eager here)
    print(
        f"data: 200 engagements x 8 KPIs and 330 KPIs, 36 months; rollups, snapshots and forecasts in {time.perf_counter() - started:.1f} s"
    )
    supervisor = User.objects.create(username="bench_sv", role=Role.SUPERVISOR)
    viewer = User.objects.create(
        username="bench_view", role=Role.VIEWER, vendor=vendors[0]
    )  # sees 20
    return {"supervisor": supervisor, "viewer": viewer}


# -- server time -------------------------------------------------------------------------------------


def best_of(fn: Callable[[], object], repeat: int = 7) -> tuple[float, float]:
    """(best wall, best CPU) seconds of `repeat` calls after one warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return min(walls), min(cpus)


def client_for(user):
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, as the real server gets
    client.force_login(user)
    return client


def get(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)


def compare(
    label: str, small: tuple[str, object], large: tuple[str, object], what: tuple[str, str]
) -> bool:
    (path_s, client_s), (path_l, client_l) = small, large
    wall_s, cpu_s = best_of(lambda: get(client_s, path_s))
    wall_l, cpu_l = best_of(lambda: get(client_l, path_l))
    ratio = cpu_l / cpu_s
    ok = ratio <= MAX_RATIO
    print(
        f"{label}: {what[0]} {cpu_s * 1000:.0f} ms CPU ({wall_s * 1000:.0f} ms wall), "
        f"{what[1]} {cpu_l * 1000:.0f} ms CPU ({wall_l * 1000:.0f} ms wall), "
        f"ratio {ratio:.2f} (target <= {MAX_RATIO:g}) {'OK' if ok else 'MISSED'}"
    )
    return ok


# -- load ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "kpi_planner.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "3",
            "--threads",
            "4",
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start")


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def load(port: int, cookie: str, paths: list[str]) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def client(index: int) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for i in range(REQUESTS_PER_CLIENT):
            path = paths[(index + i) % len(paths)]
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Cookie": cookie, "Accept-Encoding": "identity"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += 0 if ok else 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main() -> int:
    url, drop = database_url()
    server = None
    try:
        setup_django(url)
        users = build_data()
        from engagements.models import Engagement

        visible = Engagement.objects.filter(vendor=users["viewer"].vendor).count()
        sv, viewer = client_for(users["supervisor"]), client_for(users["viewer"])
        period = f"{LAST:%Y-%m}"
        ok = True
        ok &= compare(
            "SV overview",
            (f"/scorecards/?period={period}", viewer),
            (f"/scorecards/?period={period}", sv),
            (f"{visible} engagements", "202 engagements"),
        )
        ok &= compare(
            "engagement scorecard",
            (f"/scorecards/engagements/K30/?period={period}", sv),
            (f"/scorecards/engagements/K300/?period={period}", sv),
            ("30 KPIs", "300 KPIs"),
        )
        port = free_port()
        server = start_server(url, port)
        from django.conf import settings

        cookie = f"{settings.SESSION_COOKIE_NAME}={sv.cookies[settings.SESSION_COOKIE_NAME].value}"
        paths = [
            f"/scorecards/?period={period}",
            f"/scorecards/engagements/K300/?period={period}",
            f"/scorecards/engagements/E007/?period={period}",
            "/scorecards/trees/KPIS/kpis/K300-k5/",
        ]
        load(port, cookie, paths[:1])  # warm the workers up
        started = time.perf_counter()
        latencies, errors = load(port, cookie, paths)
        elapsed = time.perf_counter() - started
        good = errors == 0
        ok &= good
        print(
            f"load: {CLIENTS} concurrent clients, {len(latencies)} requests in {elapsed:.1f} s "
            f"(overview, 300-KPI scorecard, 8-KPI scorecard, KPI detail): "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95(latencies) * 1000:.0f} ms, "
            f"errors {errors} (target 0) {'OK' if good else 'MISSED'}"
        )
        return 0 if ok else 1
    finally:
        if server is not None:
            stop_server(server)
        from django.db import connections

        connections.close_all()
        drop()


if __name__ == "__main__":
    sys.exit(main())
