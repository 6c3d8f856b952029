"""Load benchmark (issue 12, "load"): the production-shaped stack under concurrent clients.

What runs, all on this machine:
- PostgreSQL: a throwaway database `kpi_bench_load` (created, migrated, dropped at the end),
  seeded with the demo (`manage.py seed_demo`) plus generated vendors, engagements and trees
  (--scale: `full` 12 vendors × 2 engagements, 6 trees of 37 nodes, actuals April–October
  2026 and 12 months of targets, rollups recomputed; `smoke` is a tenth of that);
- gunicorn with 3 sync workers (the Dockerfile's command), DEBUG=0, collected static files;
- a Celery worker on Redis (CELERY_BROKER_URL=redis://127.0.0.1:6379/14, flushed before and
  after), which recomputes the trees the writes change, as in production.

Each client is a thread with its own HTTP session, its own supervisor account (session cookie
for the pages, its own API token for the rollup) and its own vendor account and token (the
writes go to a KPI of that vendor, one per client, so clients do not queue on one row). The
per-token API throttle is raised for the run (API_THROTTLE_RATE, API_SIGN_IN_RATE_*): the
bench measures the app, not the throttle. A client sends, in turns, an even mix of:
- `overview`: the SV overview page /scorecards/;
- `scorecard`: an engagement scorecard page /scorecards/engagements/{code}/ (all engagements
  in turn);
- `rollup`: GET /api/v1/trees/{tree}/rollup/?period=2026-10 (all trees in turn);
- `write`: POST /api/v1/actuals/bulk/ with one row (a new value of the client's KPI).

With 8 and then 32 clients (--clients), for --seconds each (60), it prints requests/s and
p50/p95/p99 per kind and overall, and the errors (anything but 200, which must be 0); beside it
the floor: the same clients against GET /healthz (a trivial view: one `SELECT 1`; the login
page when there is no /healthz) for --floor-seconds, in the same run. Then it profiles the
slowest page in this process (cProfile and the SQL statements of one request, on the same data).

The issue's earlier figures, on 2 cores: 32 clients p95 1,666 ms, 8 clients p95 574 ms,
~24 requests/s, 0 errors. No target is asserted: the load depends on what else this shared
machine runs; the exit status is 1 only when a request failed.

Run: cd /work/main && .venv/bin/python bench/bench_load.py [--seconds 60] [--clients 8,32]
[--scale full|smoke] [--json out.json] [--no-profile] [--keep]. Needs PostgreSQL at
127.0.0.1:5432 (user postgres) and Redis at 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import itertools
import json
import os
import pstats
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # puts the project on sys.path first

ROOT = common.ROOT
DB_NAME = "kpi_bench_load"
BROKER_URL = "redis://127.0.0.1:6379/14"
KINDS = ("overview", "scorecard", "rollup", "write")
PASSWORD = "bench-Load-2026!x7"
PERIOD = "2026-10"
ACTUAL_MONTHS = [f"2026-{m:02d}" for m in range(4, 11)]  # April–October 2026
PLAN_MONTHS = [*ACTUAL_MONTHS, "2026-11", "2026-12", "2027-01", "2027-02", "2027-03"]
WRITE_MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08"]  # no submission: draft months
INPUTS_PER_ENGAGEMENT = 8
ENGAGEMENTS_PER_TREE = 4
PERSPECTIVES = ("financial", "customer", "process", "learning")
SCALES = {"full": 12, "smoke": 2}  # extra vendors (two engagements each)


# -- data ------------------------------------------------------------------------------------------


def seed(*, vendors: int, clients: int) -> dict:
    """The demo plus `vendors` generated vendors (two engagements each, KPI trees of four
    engagements) and the bench's accounts: per client a supervisor and a vendor user.

    Seeding writes through the services; the recompute each write would queue is held back
    and run once per tree at the end (the worker's task: rollups, then score snapshots)."""
    from kpitree import recompute
    from kpitree.models import Tree
    from kpitree.tasks import recompute_tree

    held = recompute.request_recompute
    recompute.request_recompute = lambda tree_id: False  # type: ignore[assignment]
    try:
        data = _seed(vendors=vendors, clients=clients)
    finally:
        recompute.request_recompute = held  # type: ignore[assignment]
    for tree_id in Tree.objects.values_list("pk", flat=True):
        recompute_tree(tree_id)
    return data


def _seed(*, vendors: int, clients: int) -> dict:
    from django.core.management import call_command

    from engagements import services as engagement_services
    from engagements.models import Role, User, Vendor
    from engagements.services import SYSTEM
    from kpitree import services as tree_services
    from kpitree.models import Node

    call_command("seed_demo", verbosity=0)
    manager = User.objects.get(username="manager")
    engagements = []
    for v in range(vendors):
        vendor = engagement_services.vendor_create(
            user=SYSTEM,
            data={
                "code": f"bv{v:02d}",
                "name": f"ベンチ外注先{v:02d}株式会社",
                "contact_email": f"bv{v:02d}@example.jp",
            },
        )
        for e in range(2):
            engagements.append(
                engagement_services.engagement_create(
                    user=SYSTEM,
                    data={
                        "code": f"BENCH-{v:02d}-{e}",
                        "name": f"ベンチ案件 {v:02d}-{e}",
                        "vendor": vendor,
                        "outsourcing_type": ("outbound_call", "marketing", "article")[v % 3],
                        "phase": ("launch", "improvement", "expansion")[e % 3],
                        "start_month": dt.date(2026, 4, 1),
                        "end_month": dt.date(2027, 3, 1),
                        "monthly_fee": 500_000 + 100_000 * e,
                        "actuals_due_day": 10,
                        "review_cadence": "monthly",
                        "manager": manager,
                    },
                )
            )
    write_nodes: list[tuple[str, str, int]] = []  # (tree, node, vendor id)
    trees = []
    for t in range(0, len(engagements), ENGAGEMENTS_PER_TREE):
        tree = tree_services.tree_create(
            user=manager,
            data={
                "code": f"BENCH-T{t // ENGAGEMENTS_PER_TREE}",
                "name": f"ベンチツリー {t // ENGAGEMENTS_PER_TREE}",
                "description": "",
                "start_month": dt.date(2026, 4, 1),
                "end_month": dt.date(2027, 3, 1),
            },
        )
        trees.append(tree)
        root = tree_services.node_save(
            user=manager,
            node=Node(tree=tree),
            data={
                "code": "total",
                "name": "成果合計",
                "kind": "kgi",
                "rollup": "sum",
                "unit": "件",
            },
        )
        rows, targets = [], []
        for e, engagement in enumerate(engagements[t : t + ENGAGEMENTS_PER_TREE]):
            parent = tree_services.node_save(
                user=manager,
                node=Node(tree=tree),
                data={
                    "code": f"e{e}",
                    "name": f"{engagement.name} 合計",
                    "parent": root,
                    "rollup": "sum",
                    "unit": "件",
                    "engagement": engagement,
                },
            )
            for k in range(INPUTS_PER_ENGAGEMENT):
                code = f"e{e}-k{k}"
                tree_services.node_save(
                    user=manager,
                    node=Node(tree=tree),
                    data={
                        "code": code,
                        "name": f"KPI {e}-{k}",
                        "parent": parent,
                        "unit": "件",
                        "engagement": engagement,
                        "perspective": PERSPECTIVES[k % 4],
                        "owner": "営業部",
                        "definition": "月内の件数",
                    },
                )
                write_nodes.append((tree.code, code, engagement.vendor_id))
                base = 100 + 10 * k + e
                rows += [
                    {"tree": tree.code, "node": code, "period": m, "value": base + i * 3}
                    for i, m in enumerate(ACTUAL_MONTHS)
                ]
                targets += [
                    {"node": code, "period": m, "value": base + 15, "rationale": "past_results"}
                    for m in PLAN_MONTHS
                ]
        tree_services.actuals_record(user=manager, rows=rows, channel="system")
        tree_services.targets_record(user=manager, tree=tree, rows=targets, channel="system")
    accounts = []
    bench_vendors = list(Vendor.objects.filter(code__startswith="bv").order_by("code"))
    for i in range(clients):
        tree_code, node_code, vendor_id = write_nodes[i % len(write_nodes)]
        vendor = next(v for v in bench_vendors if v.pk == vendor_id)
        for username, role, bound in (
            (f"bench_sv_{i:02d}", Role.SUPERVISOR, None),
            (f"bench_vendor_{i:02d}", Role.VENDOR, vendor),
        ):
            engagement_services.user_create(
                user=SYSTEM,
                data={
                    "username": username,
                    "role": role,
                    "vendor": bound,
                    "email": f"{username}@example.jp",
                },
                password=PASSWORD,
            )
        accounts.append(
            {
                "sv": f"bench_sv_{i:02d}",
                "vendor": f"bench_vendor_{i:02d}",
                "tree": tree_code,
                "node": node_code,
            }
        )
    from engagements.models import Engagement
    from kpitree.models import Actual, Tree

    return {
        "accounts": accounts,
        "engagements": sorted(Engagement.objects.values_list("code", flat=True)),
        "trees": sorted(
            Tree.objects.filter(archived_at__isnull=True).values_list("code", flat=True)
        ),
        "counts": {
            "engagements": Engagement.objects.count(),
            "trees": Tree.objects.count(),
            "nodes": Node.objects.count(),
            "actuals": Actual.objects.count(),
        },
    }


# -- the stack -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str, broker_url: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CELERY_TASK_ALWAYS_EAGER"}}
    env.update(
        {
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "60",
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": "",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "VAR_DIR": str(var_dir),
            "STATIC_ROOT": str(var_dir / "static"),
            "LOG_LEVEL": "WARNING",
            # The bench measures the app, not the throttle: every client has its own tokens, and
            # the per-token and sign-in rates are raised far above what the clients send.
            "API_THROTTLE_RATE": "1000000/min",
            "API_SIGN_IN_RATE_IP": "1000000/min",
            "API_SIGN_IN_RATE_USER": "1000000/min",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class Stack:
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        log_path = log_dir / f"{name}.log"
        with open(log_path, "w") as log:
            self.procs[name] = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.logs[name] = log_path

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}); see {self.logs[name]}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start_stack(env: dict[str, str], port: int, log_dir: Path) -> Stack:
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    stack = Stack()
    stack.start(
        "gunicorn",
        [
            python,
            "-m",
            "gunicorn",
            "kpi_planner.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        env,
        log_dir,
    )
    stack.start(
        "celery",
        [python, "-m", "celery", "-A", "kpi_planner", "worker", "-P", "solo", "-l", "warning"],
        env,
        log_dir,
    )
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stack.check()
        try:
            if requests.get(f"http://127.0.0.1:{port}/login/", timeout=2).status_code == 200:
                return stack
        except requests.RequestException:
            pass
        time.sleep(0.3)
    stack.stop()
    raise RuntimeError(f"gunicorn did not answer within 60 s; see {stack.logs['gunicorn']}")


# -- the clients -----------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    seconds: float
    ok: bool


class Client:
    """One simulated user: a supervisor's session and token, and a vendor's token."""

    def __init__(self, base: str, index: int, account: dict, data: dict) -> None:
        import requests

        self.base, self.index, self.account, self.data = base, index, account, data
        self.http = requests.Session()
        self.errors: list[str] = []
        login = self.http.get(f"{base}/login/", timeout=30)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert csrf, "no CSRF token on the login page"
        done = self.http.post(
            f"{base}/login/",
            data={
                "username": account["sv"],
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf[1],
            },
            headers={"Referer": f"{base}/login/"},
            timeout=30,
            allow_redirects=False,
        )
        assert done.status_code == 302, f"session login failed: {done.status_code}"
        self.sv_token = self._token(account["sv"])
        self.vendor_token = self._token(account["vendor"])
        self.step = index

    def _token(self, username: str) -> str:
        import requests

        r = requests.post(
            f"{self.base}/api/v1/auth/token/",
            json={"username": username, "password": PASSWORD},
            timeout=30,
        )
        assert r.status_code in (200, 201), f"token for {username}: {r.status_code} {r.text[:200]}"
        return r.json()["token"]

    def request(self, kind: str) -> Sample:
        self.step += 1
        http, base, step = self.http, self.base, self.step
        start = time.perf_counter()
        try:
            if kind == "floor":
                r = http.get(f"{base}{self.data['floor_path']}", timeout=120)
            elif kind == "overview":
                r = http.get(f"{base}/scorecards/", timeout=120)
            elif kind == "scorecard":
                codes = self.data["engagements"]
                r = http.get(
                    f"{base}/scorecards/engagements/{codes[step % len(codes)]}/", timeout=120
                )
            elif kind == "rollup":
                trees = self.data["trees"]
                r = http.get(
                    f"{base}/api/v1/trees/{trees[step % len(trees)]}/rollup/",
                    params={"period": PERIOD},
                    headers={"Authorization": f"Token {self.sv_token}"},
                    timeout=120,
                )
            else:
                row = {
                    "tree": self.account["tree"],
                    "node": self.account["node"],
                    "period": WRITE_MONTHS[step % len(WRITE_MONTHS)],
                    "value": 100 + step % 997,
                    "comment": "負荷試験",
                }
                r = http.post(
                    f"{base}/api/v1/actuals/bulk/",
                    json=[row],
                    headers={"Authorization": f"Token {self.vendor_token}"},
                    timeout=120,
                )
            ok = r.status_code == 200
            if not ok and len(self.errors) < 3:
                self.errors.append(f"{kind}: {r.status_code} {r.text[:200]!r}")
        except Exception as exc:  # a refused or dropped connection counts as an error
            ok = False
            if len(self.errors) < 3:
                self.errors.append(f"{kind}: {exc!r}")
        return Sample(kind, time.perf_counter() - start, ok)


def drive(clients: list[Client], kinds: tuple[str, ...], seconds: float) -> tuple[list, float]:
    """Every client sends `kinds` in turns (each starting at another kind) until the time is up."""
    samples: list[Sample] = []
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + seconds

    def run(client: Client) -> None:
        mine = []
        for kind in itertools.islice(itertools.cycle(kinds), client.index % len(kinds), None):
            if time.perf_counter() >= deadline:
                break
            mine.append(client.request(kind))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples, time.perf_counter() - start


def summarise(samples: list[Sample], elapsed: float) -> dict[str, dict]:
    import numpy as np

    out = {}
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.kind, []).append(s)
    groups["all"] = samples
    for kind, group in groups.items():
        ms = np.array([s.seconds * 1000 for s in group]) if group else np.array([0.0])
        out[kind] = {
            "requests": len(group),
            "per_second": len(group) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)),
            "errors": sum(not s.ok for s in group),
        }
    return out


def print_table(title: str, rows: dict[str, dict]) -> None:
    print(f"  {title}")
    print(
        f"    {'kind':<10} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    for kind, r in rows.items():
        print(
            f"    {kind:<10} {r['requests']:>8} {r['per_second']:>7.1f} {r['p50_ms']:>8.0f} "
            f"{r['p95_ms']:>8.0f} {r['p99_ms']:>8.0f} {r['errors']:>6}"
        )


# -- the profile -----------------------------------------------------------------------------------


def _sql_shape(sql: str) -> str:
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    return re.sub(r"\((?:\?, )+\?\)", "(…)", sql)[:160]


def _session_of(user) -> str:
    """A logged-in session of `user` (as the login form leaves it; force_login would go through
    django-axes, which wants the request's address)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key or ""


def profile_page(path: str, username: str) -> None:
    """One request of `path` in this process (Django's test client, same database): where its
    time goes (cProfile, the project's functions) and its SQL statements (count, repeats)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    from engagements.models import User

    client = DjangoClient(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = _session_of(User.objects.get(username=username))
    assert client.get(path).status_code == 200  # warm-up: imports, caches
    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        profiler.enable()
        response = client.get(path)
        profiler.disable()
        wall = time.perf_counter() - start
    assert response.status_code == 200
    sql_seconds = sum(float(q["time"]) for q in queries.captured_queries)
    print(f"\n== profile of one request of {path} (in-process, {username})")
    print(
        f"  {wall * 1000:.0f} ms; {len(queries)} SQL statements, {sql_seconds * 1000:.0f} ms in "
        "the database driver"
    )
    shapes = Counter(_sql_shape(q["sql"]) for q in queries.captured_queries)
    print("  most repeated statements:")
    for shape, n in shapes.most_common(5):
        print(f"    {n:>4} × {shape}")
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("cumulative").print_stats(rf"{re.escape(str(ROOT))}/(?!\.venv)", 25)
    print("  cumulative time, the project's functions:")
    for line in buffer.getvalue().splitlines():
        if re.match(r"\s*\d", line):
            print("   ", line.strip())
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(12)
    print("  own time, any function:")
    for line in buffer.getvalue().splitlines():
        if re.match(r"\s*\d", line):
            print("   ", line.strip())


# -- main ------------------------------------------------------------------------------------------


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def floor_path(base: str) -> str:
    import requests

    return (
        "/healthz" if requests.get(f"{base}/healthz", timeout=10).status_code == 200 else "/login/"
    )


def run(args: argparse.Namespace) -> int:
    levels = [int(c) for c in args.clients.split(",")]
    var_dir = ROOT / "var" / "bench_load" / args.db
    var_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = seed(vendors=SCALES[args.scale], clients=max(levels))
    print(
        f"data: {data['counts']['engagements']} engagements, {data['counts']['trees']} trees, "
        f"{data['counts']['nodes']} nodes, {data['counts']['actuals']} actuals "
        f"(seeded in {time.perf_counter() - t0:.0f} s)"
    )
    from django.db import connections

    connections.close_all()
    flush_redis(args.broker)
    port = free_port()
    env = server_env(common.bench_database_url(args.db), args.broker, var_dir)
    stack = start_stack(env, port, var_dir)
    results: dict = {"levels": {}, "counts": data["counts"]}
    failed = 0
    try:
        base = f"http://127.0.0.1:{port}"
        data["floor_path"] = floor_path(base)
        clients = [Client(base, i, a, data) for i, a in enumerate(data["accounts"])]
        print(
            f"stack: gunicorn 3 sync workers, DEBUG=0, Celery worker on {args.broker}; "
            f"{os.cpu_count()} CPUs; per-client tokens, throttle rates raised"
        )
        for level in levels:
            group = clients[:level]
            drive(group, KINDS, min(3.0, args.seconds))  # warm-up, not counted
            floor, floor_elapsed = drive(group, ("floor",), args.floor_seconds)
            mix, elapsed = drive(group, KINDS, args.seconds)
            stack.check()
            level_rows = summarise(mix, elapsed)
            floor_rows = summarise(floor, floor_elapsed)
            print(f"\n== {level} clients, {args.seconds:g} s of the mix")
            print_table("mix (even: overview, scorecard, rollup, write)", level_rows)
            print_table(
                f"floor: GET {data['floor_path']}, {args.floor_seconds:g} s",
                {"floor": floor_rows["all"]},
            )
            errors = level_rows["all"]["errors"] + floor_rows["all"]["errors"]
            failed += errors
            print(f"  errors: {errors}")
            for c in group:
                for e in c.errors:
                    print(f"    client {c.index}: {e}")
                c.errors.clear()
            results["levels"][str(level)] = {"mix": level_rows, "floor": floor_rows["all"]}
    finally:
        stack.stop()
        flush_redis(args.broker)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.profile and results["levels"]:
        last = results["levels"][str(levels[-1])]["mix"]
        slowest = max(("overview", "scorecard"), key=lambda k: last[k]["p95_ms"])
        path = (
            "/scorecards/"
            if slowest == "overview"
            else f"/scorecards/engagements/{data['engagements'][0]}/"
        )
        profile_page(path, data["accounts"][0]["sv"])
        if slowest == "overview":
            profile_page(
                f"/scorecards/engagements/{data['engagements'][0]}/", data["accounts"][0]["sv"]
            )
        else:
            profile_page("/scorecards/", data["accounts"][0]["sv"])
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each mix run")
    parser.add_argument(
        "--floor-seconds", type=float, default=15.0, help="length of each floor run"
    )
    parser.add_argument("--clients", default="8,32", help="comma-separated client counts")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--db", default=DB_NAME, help="name of the throwaway database")
    parser.add_argument("--broker", default=BROKER_URL)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The demo's and the writes' notices are e-mailed: keep them in memory, not on the console.
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    common.recreate_database(args.db)
    try:
        common.setup_django(common.bench_database_url(args.db), migrate=True)
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            common.drop_database(args.db)


if __name__ == "__main__":
    sys.exit(main())
