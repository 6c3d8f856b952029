"""From a write to fresh rollups: coalesced, serialised per tree, incremental.

1. **A write** (kpitree.services) calls `mark_changed` (these nodes' actuals or targets changed)
   or `mark_stale` (the structure changed) inside its transaction: the tree's data_version is
   bumped and a RollupChange row recorded per changed node, so what a recompute owes is in the
   database the moment the write commits. On commit, `request_recompute` sends one task.
2. **Coalescing.** `Tree.queued_at` is claimed with a conditional UPDATE before a task is sent;
   while it is set (a task is queued and has not started) writes send nothing, so however many
   writes, web processes and workers there are, a tree has at most one task waiting and one
   running. A task clears it once it holds the tree's lock: a write after that sends a new task.
3. **A broker outage** fails nothing: the send error is caught (kpi_planner.queueing), the claim
   released, and the beat sweep `recompute_stale` sends again for every tree with changes not
   yet consumed or a version behind, so the work waits for the broker, it is never lost. A claim
   older than REQUEUE_AFTER is taken over (a task lost with a dead worker).
4. **Serialised.** A recompute holds a PostgreSQL advisory lock on the tree (held by the
   database, so it works across processes and machines, and is released if the worker dies),
   reads the version, the pending changes and the data in one transaction, writes, and consumes
   the changes it read. Two recomputes of one tree never overlap, so an older result can never
   overwrite a newer one, and `stale` (computed_version < data_version) is exact. On SQLite
   (the local stack) every transaction begins IMMEDIATE (settings), which serialises writers.
5. **Incremental.** Only the changed nodes and their ancestors are evaluated; their other
   children enter as fixed values read from their stored rollups (which are right: nothing they
   depend on changed). A structural change evaluates the whole tree. Either way only the rollup
   rows whose values differ from the stored ones are written (updated in place, inserted or
   deleted), so the table does not churn, and the result is the same as a clean full
   recompute (tests/kpitree/test_incremental.py checks it on random trees and edits).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from kpi_planner import queueing
from kpitree import engine
from kpitree.bulk import insert_rows, update_rows
from kpitree.models import Actual, Node, Rollup, RollupChange, Target, Tree

logger = logging.getLogger(__name__)

# The first key of the two-int advisory lock ("KPTR"), so that our locks are recognisable in
# pg_locks (classid) and do not collide with another application's on the same database.
LOCK_CLASS = 0x4B505452
# A claim this old belongs to a task that was lost (its worker died before starting it).
REQUEUE_AFTER = dt.timedelta(seconds=30)
CHUNK = 2000
ROLLUP_VALUES = ("actual", "target", "achievement", "status", "fragment", "computed_at")
ROLLUP_FIELDS = ("tree", "node", "grain", "period", *ROLLUP_VALUES)
NODE_COLUMNS = (
    "id",
    "code",
    "parent_id",
    "rollup",
    "formula",
    "weight",
    "time_aggregation",
    "direction",
    "green_threshold",
    "amber_threshold",
)


# -- recording what changed (inside the write's transaction) -------------------------------------


def mark_stale(tree_ids: Iterable[int]) -> None:
    """The trees' structure or settings changed: the next recompute evaluates the whole tree."""
    _record({tree_id: None for tree_id in tree_ids})


def mark_changed(changes: Mapping[int, Iterable[int]]) -> None:
    """tree id → the nodes whose actuals or targets changed: their ancestors are recomputed."""
    _record({tree_id: set(node_ids) for tree_id, node_ids in changes.items()})


def _record(changes: Mapping[int, set[int] | None]) -> None:
    ids = sorted(changes)
    if not ids:
        return
    Tree.objects.filter(pk__in=ids).update(data_version=F("data_version") + 1)
    rows = [(tree_id, node_id) for tree_id in ids for node_id in _change_rows(changes[tree_id])]
    insert_rows(RollupChange, ["tree", "node_id", "at"], [(*r, timezone.now()) for r in rows])
    for tree_id in ids:
        transaction.on_commit(partial(request_recompute, tree_id))


def _change_rows(node_ids: set[int] | None) -> list[int | None]:
    """The node ids of a tree's change rows; one None row when the whole tree changed."""
    if node_ids is None:
        return [None]
    return [*sorted(node_ids)]


# -- sending the task ---------------------------------------------------------------------------


def request_recompute(tree_id: int) -> bool:
    """Send a recompute of the tree unless one is already waiting; True when one was sent."""
    from kpitree.tasks import recompute_tree

    now = timezone.now()
    claimed = (
        Tree.objects.filter(pk=tree_id)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))
        .update(queued_at=now)
    )
    if not claimed:
        return False
    if queueing.send(recompute_tree, tree_id):
        return True
    # Not sent: release the claim so that the sweep (or the next write) sends it.
    Tree.objects.filter(pk=tree_id, queued_at=now).update(queued_at=None)
    return False


def stale_tree_ids() -> list[int]:
    """Trees whose rollups are behind their data: changes not consumed, or a version behind."""
    pending = RollupChange.objects.values("tree_id")
    return list(
        Tree.objects.filter(Q(computed_version__lt=F("data_version")) | Q(pk__in=pending))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def sweep() -> list[int]:
    """The beat job: send a recompute for every stale tree that has none waiting."""
    return [tree_id for tree_id in stale_tree_ids() if request_recompute(tree_id)]


# -- the recompute ------------------------------------------------------------------------------


@contextmanager
def tree_lock(tree_id: int) -> Iterator[None]:
    """Hold the tree's recompute lock (PostgreSQL advisory lock, session level)."""
    if connection.vendor != "postgresql":
        yield  # SQLite: transactions begin IMMEDIATE, one writer at a time (see the docstring)
        return
    key = (LOCK_CLASS, tree_id % 2**31)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        except DatabaseError:
            # The connection is gone, and the lock with it; start the next task afresh.
            connection.close()


def tree_recompute(*, tree_id: int, full: bool = True) -> dict[str, Any]:
    """Bring a tree's rollup rows up to date with its data; idempotent.

    full=True evaluates the whole tree (the demo loader, tests, an operator); full=False, what
    the task runs, evaluates only what the recorded changes touch and does nothing when the
    tree is up to date. Both write only the rows whose values differ.
    """
    with tree_lock(tree_id):
        # From here on a write sends a new task: this run may have read the data before it.
        Tree.objects.filter(pk=tree_id).update(queued_at=None)
        with transaction.atomic():
            return _recompute_locked(tree_id, full)


def _recompute_locked(tree_id: int, full: bool) -> dict[str, Any]:
    tree = Tree.objects.filter(pk=tree_id).first()
    if tree is None:
        return {"tree": tree_id, "skipped": "deleted"}
    # The version first, then the changes and the data: everything a write up to this version
    # did is visible to the reads below (it committed its data with its version).
    version = tree.data_version
    changes = list(RollupChange.objects.filter(tree_id=tree_id).values_list("id", "node_id"))
    if not full and not changes and tree.computed_version >= version:
        return {"tree": tree.code, "skipped": "up to date", "rows_written": 0, "version": version}
    nodes = list(Node.objects.filter(tree=tree).order_by("id").values_list(*NODE_COLUMNS))
    changed = {node_id for _id, node_id in changes}
    whole = full or not changes or None in changed
    now = timezone.now()
    evaluation = None if whole else _evaluate_part(tree, nodes, changed)
    if evaluation is None:
        whole = True
        evaluation = _evaluate_whole(tree, nodes)
    expected, stored = evaluation
    evaluated = {"nodes": len({key[0] for key in expected}), "rows": len(expected)}
    counts = _write_difference(tree, expected, stored, now, deletions=whole)
    consumed = [change_id for change_id, _node in changes]
    for start in range(0, len(consumed), CHUNK):
        RollupChange.objects.filter(id__in=consumed[start : start + CHUNK]).delete()
    Tree.objects.filter(pk=tree.pk).update(
        computed_version=Greatest(F("computed_version"), version), computed_at=now
    )
    return {
        "tree": tree.code,
        "mode": "full" if whole else "incremental",
        **evaluated,
        "rows_written": sum(counts.values()),
        **counts,
        "version": version,
    }


Expected = dict[tuple[int, str, dt.date], tuple]
Stored = dict[tuple[int, str, dt.date], tuple]
# The stored rows to compare with, as (key, value) pairs: streamed from the database, or a list.
StoredRows = Iterable[tuple[tuple[int, str, dt.date], tuple]]


def _spec(row: tuple, code_of: dict[int, str]) -> engine.NodeSpec:
    _id, code, parent_id, rollup, formula, weight, time_agg, direction, green, amber = row
    return engine.NodeSpec(
        code=code,
        parent=code_of.get(parent_id),
        rollup=rollup,
        formula=formula,
        weight=weight,
        time_aggregation=time_agg,
        direction=direction,
        green=green,
        amber=amber,
    )


def _evaluate_whole(tree: Tree, nodes: list[tuple]) -> tuple[Expected, StoredRows]:
    code_of = {row[0]: row[1] for row in nodes}
    specs = [_spec(row, code_of) for row in nodes]
    ids = [row[0] for row in nodes]
    months = engine.month_range(tree.start_month, tree.end_month)
    position = {node_id: i for i, node_id in enumerate(ids)}
    column = {m: j for j, m in enumerate(months)}
    in_plan = {
        "node__tree": tree,
        "node__archived_at__isnull": True,  # an archived node's values stay, out of the rollup
        "period__gte": tree.start_month,
        "period__lte": tree.end_month,
    }
    actual = _fill(np.full((len(ids), len(months)), np.nan), Actual, in_plan, position, column)
    target = _fill(np.full((len(ids), len(months)), np.nan), Target, in_plan, position, column)
    plan = engine.TreePlan.build(specs, green=tree.green_threshold, amber=tree.amber_threshold)
    results = engine.compute(plan, months, actual, target, fiscal_year_start=tree.fiscal_year_start)
    # The stored rows are streamed into the comparison, not held: a 5,000-node tree has a
    # quarter of a million of them.
    stored = _stored_rows(Rollup.objects.filter(tree=tree))
    return _expected(results, ids, range(len(ids))), stored


def _evaluate_part(
    tree: Tree, nodes: list[tuple], changed: set[int | None]
) -> tuple[Expected, StoredRows] | None:
    """Evaluate the changed nodes and their ancestors only; None when it cannot be done (a
    child's stored rollups are incomplete), and then the caller evaluates the whole tree.
    `changed` ids not (or no longer) in the tree are skipped."""
    parent_of = {row[0]: row[2] for row in nodes}
    affected: set[int] = set()
    for node_id in changed:
        current = node_id if node_id in parent_of else None
        while current is not None and current not in affected:
            affected.add(current)
            current = parent_of[current]
    if not affected:
        return {}, []
    frontier = {n for n, p in parent_of.items() if p in affected and n not in affected}
    rows = [row for row in nodes if row[0] in affected or row[0] in frontier]  # id order
    code_of = {row[0]: row[1] for row in rows}
    specs = []
    for row in rows:
        spec = _spec(row, code_of)
        if row[0] in frontier:
            # An unchanged child: a given value in every period (see `fixed` below), with
            # the weight its parent's weighted average reads.
            spec = engine.NodeSpec(code=spec.code, parent=spec.parent, weight=spec.weight)
        specs.append(spec)
    ids = [row[0] for row in rows]
    months = engine.month_range(tree.start_month, tree.end_month)
    position = {node_id: i for i, node_id in enumerate(ids)}
    column = {m: j for j, m in enumerate(months)}
    actual = np.full((len(ids), len(months)), np.nan)
    target = np.full((len(ids), len(months)), np.nan)
    own = sorted(affected)
    inputs = [row[0] for row in rows if row[0] in affected and row[3] == "input"]
    in_plan = {"period__gte": tree.start_month, "period__lte": tree.end_month}
    for start in range(0, len(inputs), CHUNK):
        chunk = {"node_id__in": inputs[start : start + CHUNK], **in_plan}
        _fill(actual, Actual, chunk, position, column)
    for start in range(0, len(own), CHUNK):
        _fill(
            target, Target, {"node_id__in": own[start : start + CHUNK], **in_plan}, position, column
        )
    stored: Stored = {}
    for start in range(0, len(ids), CHUNK):
        stored.update(_stored(Rollup.objects.filter(node_id__in=ids[start : start + CHUNK])))
    # The unchanged children's stored values: months into the matrices, quarters and years
    # as the periods' given values.
    grains = {
        grain: engine._buckets(months, grain, tree.fiscal_year_start)[0]
        for grain in ("quarter", "year")
    }
    front = sorted(frontier)
    rows_of = np.array([position[n] for n in front], dtype=np.intp)
    fixed = {
        grain: (rows_of, *_given(stored, front, grain, periods))
        for grain, periods in grains.items()
    }
    month_a, month_t = _given(stored, front, "month", months)
    if front:
        actual[rows_of] = month_a
        target[rows_of] = month_t
    wanted = len(months) + sum(len(p) for p in grains.values())
    have = sum(1 for key in stored if key[0] in frontier)
    if have != wanted * len(front):
        return None  # a child has never been computed (or its plan changed): go whole
    plan = engine.TreePlan.build(specs, green=tree.green_threshold, amber=tree.amber_threshold)
    results = engine.compute(
        plan, months, actual, target, fiscal_year_start=tree.fiscal_year_start, fixed=fixed
    )
    mine = [position[n] for n in ids if n in affected]
    expected = _expected(results, ids, mine)
    return expected, [(key, value) for key, value in stored.items() if key[0] in affected]


def _given(
    stored: Stored, node_ids: list[int], grain: str, periods: list[dt.date]
) -> tuple[np.ndarray, np.ndarray]:
    actual = np.full((len(node_ids), len(periods)), np.nan)
    target = np.full((len(node_ids), len(periods)), np.nan)
    for i, node_id in enumerate(node_ids):
        for j, period in enumerate(periods):
            row = stored.get((node_id, grain, period))
            if row is not None:
                actual[i, j] = np.nan if row[1] is None else row[1]
                target[i, j] = np.nan if row[2] is None else row[2]
    return actual, target


def _fill(out: np.ndarray, model, filters: dict, position: dict, column: dict) -> np.ndarray:
    qs = model.objects.filter(**filters).values_list("node_id", "period", "value")
    for node_id, period, value in qs.iterator(chunk_size=10000):
        out[position[node_id], column[period]] = value
    return out


def _stored_rows(qs) -> Iterator[tuple[tuple[int, str, dt.date], tuple]]:
    """((node id, grain, period), (pk, actual, target, achievement, status)) of stored rows."""
    for pk, node_id, grain, period, actual, target, achievement, status in qs.values_list(
        "id", "node_id", "grain", "period", "actual", "target", "achievement", "status"
    ).iterator(chunk_size=10000):
        yield (node_id, grain, period), (pk, actual, target, achievement, status)


def _stored(qs) -> Stored:
    return dict(_stored_rows(qs))


def _expected(results: dict[str, engine.GrainResult], ids: list[int], rows) -> Expected:
    """(node id, grain, period) → (actual, target, achievement, status), None for missing."""
    rows = np.asarray(list(rows), dtype=np.intp)
    out: Expected = {}
    for grain, r in results.items():
        periods = r.periods
        actual = _nullable(r.actual[rows])
        target = _nullable(r.target[rows])
        achievement = _nullable(r.achievement[rows])
        status = engine.STATUS_NAMES[r.status[rows]].tolist()
        for k, row in enumerate(rows.tolist()):
            node_id = ids[row]
            for j, period in enumerate(periods):
                out[(node_id, grain, period)] = (
                    actual[k][j],
                    target[k][j],
                    achievement[k][j],
                    status[k][j],
                )
    return out


def _nullable(matrix: np.ndarray) -> list[list[float | None]]:
    values = matrix.astype(object)
    values[np.isnan(matrix)] = None
    return values.tolist()


def _write_difference(
    tree: Tree,
    expected: Expected,
    stored: StoredRows,
    now: dt.datetime,
    *,
    deletions: bool,
) -> dict[str, int]:
    """Update the stored rows whose values differ, insert the missing ones and (deletions)
    delete those no longer expected. Consumes `expected`."""
    updates, gone = [], []
    for key, old in stored:
        values = expected.pop(key, None)
        if values is None:
            if deletions:
                gone.append(old[0])
        elif old[1:] != values:
            updates.append((old[0], *values, fragment(*values), now))
    inserts = [
        (tree.pk, key[0], key[1], key[2], *values, fragment(*values), now)
        for key, values in expected.items()
    ]
    update_rows(Rollup, ROLLUP_VALUES, updates)
    insert_rows(Rollup, ROLLUP_FIELDS, inserts)
    for start in range(0, len(gone), CHUNK):
        Rollup.objects.filter(id__in=gone[start : start + CHUNK]).delete()
    return {"updated": len(updates), "inserted": len(inserts), "deleted": len(gone)}


def _number(value: float | None) -> str:
    return "null" if value is None else repr(value)  # repr is what json.dumps writes for floats


def fragment(
    actual: float | None, target: float | None, achievement: float | None, status: str
) -> str:
    """A rollup row's values as JSON members, exactly as the rollup API answers them."""
    rounded = None if achievement is None else round(achievement, 4)
    return (
        f'"actual":{_number(actual)},"target":{_number(target)},'
        f'"achievement":{_number(rounded)},"status":"{status}"'
    )
