"""The rollup recompute pipeline under load and failure (issue 9): real PostgreSQL, a private
Redis server, two real `celery worker -P solo` processes (and a real `celery beat` where the
sweeps matter), and the web code running in this process through DRF's APIClient.

What a user relies on: every write is accepted and kept, whatever the broker or the workers do;
a tree's rollups end up equal to a clean full recompute of its data and say `stale: false`;
at most one recompute task per tree waits in the queue; a notice's e-mail is delivered once the
broker is back.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterable

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from engagements.models import Engagement, Notification, Role, User, Vendor
from kpitree import recompute, services
from kpitree.models import Actual, Node, Rollup, RollupChange, Target, Tree
from portal.services import current_month, month_add
from tests.integration.conftest import Broker, Proc, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# The advisory lock's first key, as the recompute takes it: pg_advisory_lock(LOCK_CLASS, tree id)
# shows in pg_locks as locktype 'advisory', classid LOCK_CLASS, objid tree id, objsubid 2.
LOCK_CLASS = recompute.LOCK_CLASS
RECOMPUTE = "kpitree.recompute_tree"
# What in a worker's log means that a task went wrong.
TASK_PROBLEM = re.compile(r"raised unexpected|Traceback|\bERROR\b|\bCRITICAL\b")
# The first line of a log record (a traceback's lines follow it without a timestamp).
LOG_RECORD = re.compile(r"^\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")

START = month_add(current_month(), -6)
END = month_add(current_month(), 5)
MONTHS = [month_add(START, i) for i in range(12)]


# -- the cast and the trees ----------------------------------------------------------------------


def cast(code: str) -> tuple[Engagement, User, User]:
    """An engagement of one vendor, its vendor user and the manager in charge of it."""
    vendor = Vendor.objects.create(code=f"v-{code}", name=f"Vendor {code}")
    manager = User.objects.create_user(
        f"mgr-{code}",
        email=f"mgr-{code}@example.com",
        password="pw-manager-123",
        role=Role.MANAGER,
        language="en",
    )
    engagement = Engagement.objects.create(
        code=code,
        name=f"Engagement {code}",
        vendor=vendor,
        outsourcing_type="outbound_call",
        phase="improvement",
        start_month=START,
        end_month=END,
        manager=manager,
    )
    vendor_user = User.objects.create_user(
        f"vend-{code}", password="pw-vendor-123", role=Role.VENDOR, vendor=vendor
    )
    return engagement, vendor_user, manager


def token_for(username: str, password: str) -> str:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def api_client(username: str | None = None, password: str = "", token: str = "") -> APIClient:
    # raise_request_exception=False: a view that fails answers 500 here, as it would to a client.
    client = APIClient(raise_request_exception=False)
    token = token or token_for(username or "", password)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def small_tree(code: str, engagement: Engagement, leaves: Iterable[str]) -> tuple[Tree, Node]:
    """KGI `total` (sum) over input KPIs of the engagement."""
    tree = Tree.objects.create(code=code, name=code, start_month=START, end_month=END)
    total = Node.objects.create(tree=tree, code="total", name="total", kind="kgi", rollup="sum")
    Node.objects.bulk_create(
        Node(tree=tree, code=leaf, name=leaf, parent=total, engagement=engagement, position=i)
        for i, leaf in enumerate(leaves)
    )
    return tree, total


def big_tree(code: str, engagement: Engagement, groups: int = 20, per_group: int = 100) -> Tree:
    """1 + groups + groups × per_group nodes (2,021 by default) with an actual and a target in
    each of the 12 months of every leaf, written with bulk_create (no change is recorded):
    the first recompute evaluates and inserts everything and takes a moment."""
    tree = Tree.objects.create(code=code, name=code, start_month=START, end_month=END)
    root = Node.objects.create(tree=tree, code="root", name="root", kind="kgi", rollup="sum")
    mids = Node.objects.bulk_create(
        Node(tree=tree, code=f"g{g}", name=f"g{g}", parent=root, rollup="sum", position=g)
        for g in range(groups)
    )
    leaves = Node.objects.bulk_create(
        Node(
            tree=tree,
            code=f"g{g}_{i}",
            name=f"g{g}_{i}",
            parent=mid,
            engagement=engagement,
            position=i,
        )
        for g, mid in enumerate(mids)
        for i in range(per_group)
    )
    Actual.objects.bulk_create(
        (
            Actual(node=leaf, period=month, value=float(10 + (n * 7 + j) % 90))
            for n, leaf in enumerate(leaves)
            for j, month in enumerate(MONTHS)
        ),
        batch_size=5000,
    )
    Target.objects.bulk_create(
        (
            Target(node=leaf, period=month, value=float(50 + n % 40))
            for n, leaf in enumerate(leaves)
            for month in MONTHS
        ),
        batch_size=5000,
    )
    return tree


def structural_change(tree: Tree) -> None:
    """What a node edit records (a NULL RollupChange): on commit, one recompute is requested
    and it evaluates the whole tree."""
    with transaction.atomic():
        recompute.mark_stale([tree.pk])


# -- observing the pipeline --------------------------------------------------------------------


def rollup_rows(tree: Tree) -> list[tuple]:
    return list(
        Rollup.objects.filter(tree=tree)
        .order_by("node_id", "grain", "period")
        .values_list("node_id", "grain", "period", "actual", "target", "achievement", "status")
    )


def assert_equals_a_full_recompute(tree: Tree) -> None:
    """A clean full recompute of the tree's data finds nothing to write."""
    before = rollup_rows(tree)
    assert before, "the tree has no rollup rows"
    result = recompute.tree_recompute(tree_id=tree.pk, full=True)
    assert result["rows_written"] == 0, result
    assert rollup_rows(tree) == before


def lock_sessions(tree: Tree) -> list[tuple[int, bool, str]]:
    """(backend pid, granted, application_name) of every session holding or waiting for the
    tree's recompute lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.pid, l.granted, a.application_name
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.classid::bigint = %s AND l.objid::bigint = %s
              AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY l.granted DESC, l.pid
            """,
            [LOCK_CLASS, tree.pk % 2**31],
        )
        return cursor.fetchall()


def lock_holder(tree: Tree) -> str | None:
    """application_name of the session holding the tree's recompute lock."""
    return next((app for _pid, granted, app in lock_sessions(tree) if granted), None)


def wait_for_holder(tree: Tree, workers: dict[str, Proc]) -> Proc:
    """The worker that takes the tree's recompute lock (polled every 5 ms)."""
    app = wait_for(
        lambda: (holder := lock_holder(tree)) in workers and holder,
        30,
        interval=0.005,
        message="a worker takes the recompute lock",
    )
    return workers[app]


def last_query(app_name: str) -> str:
    """The statement that worker's database session runs or ran last."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = %s ORDER BY pid",
            [app_name],
        )
        return " ".join(row[0] for row in cursor.fetchall())


def waiting_for_lock(tree: Tree) -> set[str]:
    """application_name of every session waiting for the tree's recompute lock."""
    return {app for _pid, granted, app in lock_sessions(tree) if not granted}


def holds_tree_row_lock(app_name: str) -> bool:
    """Whether that worker's open transaction has updated the tree row (the last step of a
    recompute): a write would then wait for its commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE a.application_name = %s AND l.locktype = 'relation'
              AND l.relation = 'kpitree_tree'::regclass AND l.mode = 'RowExclusiveLock'
            """,
            [app_name],
        )
        return cursor.fetchone()[0] > 0


def queued_recomputes(broker: Broker, tree: Tree) -> int:
    return sum(1 for name, args in broker.queued() if name == RECOMPUTE and args == [tree.pk])


def settled(tree: Tree, broker: Broker | None) -> bool:
    """The tree is up to date, nothing of it is pending, queued or running."""
    tree.refresh_from_db()
    return (
        tree.computed_version == tree.data_version
        and tree.queued_at is None
        and not RollupChange.objects.filter(tree=tree).exists()
        and not lock_sessions(tree)
        and (broker is None or not queued_recomputes(broker, tree))
    )


def task_failures(broker: Broker, procs: Iterable[Proc], allow: re.Pattern | None = None):
    """Failed tasks in the result backend, and lines of the workers' logs that report one."""
    failed = [
        f"result {meta.get('task_id')}: {meta.get('result')}"
        for meta in broker.results()
        if meta.get("status") == "FAILURE"
    ]
    for proc in procs:
        allowed = False  # inside the record of an allowed line (its traceback too)
        for line in proc.log().splitlines():
            if LOG_RECORD.match(line):
                allowed = bool(allow and allow.search(line))
            if TASK_PROBLEM.search(line) and not allowed:
                failed.append(f"{proc.name}: {line}")
    return failed


def recompute_results(proc: Proc) -> list[dict]:
    """What each recompute of the worker returned, as its log shows it (the task ignores its
    result, so the result backend does not keep it)."""
    pattern = rf"Task {re.escape(RECOMPUTE)}\[[^\]]+\] succeeded in [0-9.e-]+s: (\{{.*\}})"
    return [ast.literal_eval(m) for m in re.findall(pattern, proc.log())]


def tasks_run(proc: Proc, name: str = RECOMPUTE) -> int:
    return len(re.findall(rf"Task {re.escape(name)}\[[^\]]+\] succeeded", proc.log()))


def rollup_api(client: APIClient, tree: Tree, period: dt.date) -> dict:
    response = client.get(f"/api/v1/trees/{tree.code}/rollup/?period={period:%Y-%m}&grain=month")
    assert response.status_code == 200, response.content
    body = response.json()
    return {"stale": body["stale"], **{n["node"]: n["actual"] for n in body["nodes"]}}


def post_actual(client: APIClient, tree: Tree, node: str, period: dt.date, value: float):
    row = {"tree": tree.code, "node": node, "period": f"{period:%Y-%m}", "value": value}
    return client.post("/api/v1/actuals/bulk/", [row], format="json")


def in_thread(fn: Callable[[], object], timeout: float) -> tuple[bool, object]:
    """Run fn in a thread with its own database connection; (finished, result or exception)."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:  # reported by the caller
            out.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return (not thread.is_alive(), out[0] if out else None)


# -- 1. many writers, two workers ------------------------------------------------------------------


def test_it_rolls_up_50_concurrent_writes_exactly_with_one_task_queued_at_most(
    private_broker: Broker, start_worker
) -> None:
    workers = [start_worker(f"conc-{x}", env=private_broker.env) for x in "ab"]
    engagement, vendor_user, manager = cast("CONC")
    shops = [f"shop{t}" for t in range(10)]
    tree, _total = small_tree("IT-CONC", engagement, shops)
    services.targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": s, "period": f"{m:%Y-%m}", "value": 5000} for s in shops for m in MONTHS],
        channel="system",
    )
    wait_for(lambda: settled(tree, private_broker), 30, message="the targets' recompute")
    token = token_for(vendor_user.username, "pw-vendor-123")

    # Thread t writes shop t five times, one row each: months 0, 1, 2, then 0 and 1 again.
    def value(t: int, k: int) -> float:
        return 1000.0 * (t + 1) + k

    barrier = threading.Barrier(10)
    responses: dict[tuple[int, int], tuple[int, object]] = {}

    def writer(t: int) -> None:
        try:
            client = api_client(token=token)
            barrier.wait(timeout=30)
            for k in range(5):
                response = post_actual(client, tree, f"shop{t}", MONTHS[k % 3], value(t, k))
                body = response.json() if response.status_code == 200 else response.content
                responses[(t, k)] = (response.status_code, body)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(10)]
    with private_broker.sampling(RECOMPUTE, [tree.pk]) as queue:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        wait_for(lambda: settled(tree, private_broker), 60, message="the writes' recompute")

    expected = {
        (t, k): (200, {"created": int(k < 3), "updated": int(k >= 3), "unchanged": 0})
        for t in range(10)
        for k in range(5)
    }
    assert responses == expected
    # The last write of each (shop, month): month 0 was written by k=0 then 3, month 1 by 1
    # then 4, month 2 by 2 only.
    last = {(t, j): value(t, k) for t in range(10) for j, k in ((0, 3), (1, 4), (2, 2))}
    stored = {
        (int(code[4:]), MONTHS.index(period)): v
        for code, period, v in Actual.objects.filter(node__tree=tree).values_list(
            "node__code", "period", "value"
        )
    }
    assert stored == last
    client = api_client(manager.username, "pw-manager-123")
    shown: dict = {}
    for j in range(3):
        shown = rollup_api(client, tree, MONTHS[j])
        assert shown == {
            "stale": False,
            "total": sum(last[(t, j)] for t in range(10)),
            **{f"shop{t}": last[(t, j)] for t in range(10)},
        }
    assert shown["total"] == 55020.0
    assert_equals_a_full_recompute(tree)
    assert task_failures(private_broker, workers) == []
    assert queue["samples"] > 100
    # At most one task waits per tree (claimed with queued_at); 2 allows a claim taken over.
    assert queue["max_queued"] <= 2, f"{queue} recompute tasks of the tree were queued at once"
    print(
        f"\n[concurrent] queue {queue}; recomputes run per worker {[tasks_run(w) for w in workers]}"
    )


# -- 2. a recompute paused while a newer write arrives ------------------------------------------


def test_a_newer_write_during_a_paused_recompute_wins(private_broker: Broker, start_worker) -> None:
    a, b = (start_worker(f"pause-{x}", env=private_broker.env) for x in "ab")
    workers = {w.app_name: w for w in (a, b)}
    engagement, vendor_user, manager = cast("PAUSE")
    tree = big_tree("IT-PAUSE", engagement)
    client = api_client(vendor_user.username, "pw-vendor-123")

    paused: Proc | None = None
    try:
        for _attempt in range(3):
            structural_change(tree)
            worker = wait_for_holder(tree, workers)
            # Pause it once it has read the tree's version and its actuals (it reads the targets
            # or the stored rollups, or writes them): it then computes from data older than
            # the write below.
            wait_for(
                lambda w=worker: (
                    re.search(r'"kpitree_(target|rollup)"', last_query(w.app_name))
                    or lock_holder(tree) != w.app_name
                ),
                10,
                interval=0.005,
                message="the recompute reads the tree's data",
            )
            worker.pause()
            tree.refresh_from_db()
            version = tree.data_version
            mid_task = (
                lock_holder(tree) == worker.app_name
                and tree.computed_version < tree.data_version
                and not holds_tree_row_lock(worker.app_name)
            )
            if mid_task:
                paused = worker
                break
            # Paused too late (the recompute had finished, or was committing): try again.
            worker.resume()
            wait_for(lambda: settled(tree, private_broker), 60)
        assert paused is not None, "every recompute finished before it could be paused"
        other = b if paused is a else a

        # A newer write while the recompute is paused: accepted at once, and its recompute is
        # sent (the paused task cleared queued_at when it took the lock) and taken by the other
        # worker, which waits for the lock.
        finished, response = in_thread(
            lambda: post_actual(client, tree, "g7_42", MONTHS[5], 424242.0), 20
        )
        assert finished, "the write waited for the paused recompute"
        assert response.status_code == 200, response.content
        assert response.json() == {"created": 0, "updated": 1, "unchanged": 0}
        wait_for(
            lambda: other.app_name in waiting_for_lock(tree),
            30,
            message=f"{other.name} waits for the lock held by {paused.name}",
        )
        assert lock_holder(tree) == paused.app_name
    finally:
        if paused is not None:
            paused.resume()

    wait_for(lambda: settled(tree, private_broker), 60, message="both recomputes end")
    assert (tree.data_version, tree.computed_version) == (version + 1, version + 1)
    node = Node.objects.get(tree=tree, code="g7_42")
    assert Actual.objects.get(node=node, period=MONTHS[5]).value == 424242.0
    month = MONTHS[5]
    leaf = Rollup.objects.get(node=node, grain="month", period=month)
    assert leaf.actual == 424242.0
    group = Rollup.objects.get(node__tree=tree, node__code="g7", grain="month", period=month)
    members = Actual.objects.filter(node__parent__code="g7", node__tree=tree, period=month)
    assert group.actual == sum(members.values_list("value", flat=True))
    assert rollup_api(api_client(manager.username, "pw-manager-123"), tree, month)["stale"] is False
    # The paused task finished with what it had read (the older version, the whole tree); the
    # follow-up evaluated the write's ancestors and wrote only what changed: the leaf, its
    # group and the root, each for the month, its quarter and its fiscal year.
    runs = {
        (r.get("mode"), r["version"], r["rows_written"])
        for w in workers.values()
        for r in recompute_results(w)
        if r.get("tree") == tree.code and "skipped" not in r
    }
    assert any(mode == "full" and v == version for mode, v, _rows in runs), runs
    assert ("incremental", version + 1, 9) in runs, runs
    assert_equals_a_full_recompute(tree)
    assert task_failures(private_broker, workers.values()) == []
    print(
        f"\n[paused] paused {paused.name}; recomputes run: "
        f"{ {w.name: tasks_run(w) for w in workers.values()} }"
    )


# -- 3. the broker down while people write and submit --------------------------------------------


@pytest.mark.parametrize(
    "private_broker",
    [
        pytest.param(False, id="no-result-backend"),
        pytest.param(True, id="result-backend-on-the-same-redis"),
    ],
    indirect=True,
)
def test_writes_and_a_submission_succeed_while_redis_is_down_and_catch_up_after(
    private_broker: Broker, start_worker, start_beat, smtp_sink, caplog
) -> None:
    # Two settings a deployment may have: no result backend (docker-compose), or one on the
    # Redis that is also the broker (README: CELERY_RESULT_BACKEND; `make test-integration`);
    # the outage takes both down.
    env = {**private_broker.env, **smtp_sink.env}
    start_beat(env=env)
    workers = [start_worker(f"outage-{x}", env=env) for x in "ab"]
    engagement, vendor_user, manager = cast("OUT")
    tree, _total = small_tree("IT-OUT", engagement, ["calls", "appts", "web"])
    period, before = MONTHS[5], MONTHS[4]  # last month, already begun
    services.targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "calls", "period": f"{period:%Y-%m}", "value": 3000}],
        channel="system",
    )
    wait_for(lambda: settled(tree, private_broker), 30, message="the targets' recompute")
    client = api_client(vendor_user.username, "pw-vendor-123")

    private_broker.redis.stop()
    assert not private_broker.redis.running()
    caplog.set_level("WARNING")
    writes = [
        ("calls", period, 3000.0),
        ("appts", period, 300.0),
        ("web", period, 120.0),
        ("calls", period, 3100.0),
        ("web", before, 80.0),
    ]
    answers = [
        {"created": 1, "updated": 0, "unchanged": 0},
        {"created": 1, "updated": 0, "unchanged": 0},
        {"created": 1, "updated": 0, "unchanged": 0},
        {"created": 0, "updated": 1, "unchanged": 0},
        {"created": 1, "updated": 0, "unchanged": 0},
    ]
    for i, ((node, month, value), answer) in enumerate(zip(writes, answers, strict=True)):
        began = time.monotonic()
        response = post_actual(client, tree, node, month, value)
        took = time.monotonic() - began
        assert response.status_code == 200, (
            f"write {i + 1}: {response.status_code} after {took:.1f} s"
        )
        assert response.json() == answer
    began = time.monotonic()
    submitted = client.post(
        f"/api/v1/engagements/{engagement.code}/submissions/{period:%Y-%m}/submit/", format="json"
    )
    took = time.monotonic() - began
    assert submitted.status_code == 200, f"submit: {submitted.status_code} after {took:.1f} s"
    assert submitted.json()["status"] == "submitted"

    # Committed, and owed: the rollups are behind, the changes wait in the database.
    values = dict(
        Actual.objects.filter(node__tree=tree, period=period).values_list("node__code", "value")
    )
    assert values == {"calls": 3100.0, "appts": 300.0, "web": 120.0}
    tree.refresh_from_db()
    assert tree.computed_version < tree.data_version
    assert tree.queued_at is None  # the claim was released when the send failed
    assert RollupChange.objects.filter(tree=tree).exists()
    notice = Notification.objects.get(recipient=manager, kind="submitted")
    assert notice.emailed_at is None
    assert smtp_sink.mails == []
    warned = [r.getMessage() for r in caplog.records if r.name == "kpi_planner.queueing"]
    assert any(RECOMPUTE in message for message in warned), warned

    private_broker.redis.start()
    restarted = time.monotonic()
    wait_for(lambda: settled(tree, private_broker), 60, message="the rollup catches up")
    caught_up = time.monotonic() - restarted
    wait_for(
        lambda: (
            Notification.objects.filter(pk=notice.pk, emailed_at__isnull=False).exists()
            and smtp_sink.mails
        ),
        90,
        message="the notice's e-mail is delivered",
    )
    mailed = time.monotonic() - restarted
    assert [m.recipients for m in smtp_sink.mails] == [[manager.email]]
    assert "were submitted" in smtp_sink.mails[0].message["Subject"]
    shown = rollup_api(api_client(manager.username, "pw-manager-123"), tree, period)
    assert shown == {"stale": False, "total": 3520.0, "calls": 3100.0, "appts": 300.0, "web": 120.0}
    assert_equals_a_full_recompute(tree)
    # The workers log their lost broker connection as errors; a failed task is something else.
    # A worker that finished a task as the broker went away cannot acknowledge it: the message
    # is delivered again and the recompute, idempotent, finds nothing to do.
    broker_lost = re.compile(
        r"consumer: (Cannot connect to redis|Connection to broker lost)"
        r"|Couldn't ack .*reason:network"
    )
    assert task_failures(private_broker, workers, allow=broker_lost) == []
    assert all("raised unexpected" not in w.log() for w in workers)
    print(f"\n[outage] rollup caught up {caught_up:.1f} s and e-mail {mailed:.1f} s after restart")


# -- 4. a worker killed in the middle of a recompute ---------------------------------------------


def test_a_worker_killed_mid_recompute_loses_nothing(
    private_broker: Broker, start_worker, start_beat
) -> None:
    # The sweep that sends the lost recompute again is the real `celery beat` with the schedule
    # of settings (kpitree.recompute_stale every 20 s), not a call from this test.
    start_beat(env=private_broker.env)
    a, b = (start_worker(f"kill-{x}", env=private_broker.env) for x in "ab")
    workers = {w.app_name: w for w in (a, b)}
    engagement, _vendor_user, manager = cast("KILL")
    tree = big_tree("IT-KILL", engagement)
    node_count = Node.objects.filter(tree=tree).count()

    structural_change(tree)
    victim = wait_for_holder(tree, workers)
    victim.kill()
    killed = time.monotonic()
    assert not victim.alive()
    # The database ends the dead worker's session, and with it the lock and the transaction.
    wait_for(
        lambda: lock_holder(tree) != victim.app_name, 15, message="the dead worker's lock is gone"
    )
    rows = Rollup.objects.filter(tree=tree).count()
    assert rows in (0, node_count * len(rollup_periods(tree))), rows  # all or nothing

    survivor = b if victim is a else a
    restarted_worker = start_worker(victim.name, env=private_broker.env)
    restarted = time.monotonic()
    wait_for(lambda: settled(tree, private_broker), 60, message="the tree is recomputed")
    recovered = time.monotonic() - restarted
    assert (
        rollup_api(api_client(manager.username, "pw-manager-123"), tree, MONTHS[0])["stale"]
        is False
    )
    assert Rollup.objects.filter(tree=tree).count() == node_count * len(rollup_periods(tree))
    assert_equals_a_full_recompute(tree)
    assert task_failures(private_broker, [survivor, restarted_worker]) == []
    print(
        f"\n[kill] killed {victim.name} (-9, group); recovered {recovered:.1f} s after the restart,"
        f" {time.monotonic() - killed:.1f} s after the kill; recomputes run: "
        f"survivor {tasks_run(survivor)}, restarted {tasks_run(restarted_worker)}"
    )


def rollup_periods(tree: Tree) -> list[tuple[str, dt.date]]:
    """(grain, period) of every rollup row a node has: 12 months, their quarters and years."""
    from kpitree import engine

    out = [("month", m) for m in MONTHS]
    for grain in ("quarter", "year"):
        out += [
            (grain, p)
            for p in sorted({engine.period_start(m, grain, tree.fiscal_year_start) for m in MONTHS})
        ]
    return out
