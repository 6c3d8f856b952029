"""The incremental recompute gives exactly the rows of a clean full recompute, on random trees
and random sequences of edits, and writes only the rows whose values changed."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitree.models import Node, Rollup, RollupChange, Tree
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, node_save, targets_record
from tests.factories import TreeFactory

_codes = itertools.count()


def rollup_rows(tree: Tree) -> list[tuple]:
    return sorted(
        Rollup.objects.filter(tree=tree).values_list(
            "node_id", "grain", "period", "actual", "target", "achievement", "status"
        )
    )


def assert_equals_a_clean_full_recompute(tree: Tree) -> None:
    incremental = rollup_rows(tree)
    assert tree_recompute(tree_id=tree.pk, full=True)["rows_written"] == 0
    Rollup.objects.filter(tree=tree).delete()
    tree_recompute(tree_id=tree.pk, full=True)
    assert rollup_rows(tree) == incremental


# -- random trees -------------------------------------------------------------------------------

values = st.one_of(
    st.integers(min_value=0, max_value=200).map(float), st.sampled_from([0.5, 12.25, 1e6])
)


@st.composite
def trees(draw) -> dict:
    n = draw(st.integers(min_value=2, max_value=12))
    parents: list[int | None] = [None]
    for i in range(1, n):
        parents.append(draw(st.one_of(st.none(), st.integers(0, i - 1))) if i > 1 else 0)
    children = {i: [j for j in range(n) if parents[j] == i] for i in range(n)}
    nodes = []
    for i in range(n):
        kids = children[i]
        rollup = "input"
        formula = ""
        time_aggregation = draw(st.sampled_from(["sum", "avg", "last", "min", "max"]))
        if kids:
            rollup = draw(st.sampled_from(["sum", "avg", "weighted_avg", "formula"]))
        if rollup == "formula":
            formula = f"n{kids[0]}"
            for k in kids[1:]:
                formula = f"({formula} {draw(st.sampled_from(['+', '-', '*', '/']))} n{k})"
            if len(kids) == 1:
                formula = f"{formula} * 2"
            if draw(st.booleans()):
                time_aggregation = "recompute"
        nodes.append(
            {
                "parent": parents[i],
                "rollup": rollup,
                "formula": formula,
                "time_aggregation": time_aggregation,
                "weight": draw(st.sampled_from([0.0, 1.0, 2.5])),
                "direction": draw(st.sampled_from(["up", "down"])),
            }
        )
    # Edits: an actual of an input, a target of any node, or a change of a node's settings.
    inputs = [i for i in range(n) if nodes[i]["rollup"] == "input"]
    edit = st.one_of(
        st.tuples(st.just("actual"), st.sampled_from(inputs), st.integers(0, 7), values),
        st.tuples(st.just("target"), st.integers(0, n - 1), st.integers(0, 7), values),
        st.tuples(
            st.just("setting"), st.integers(0, n - 1), st.sampled_from(["up", "down"]), values
        ),
    )
    first = draw(st.lists(edit.filter(lambda e: e[0] != "setting"), max_size=8))
    edits = draw(st.lists(st.lists(edit, min_size=1, max_size=3), min_size=1, max_size=5))
    start = draw(st.sampled_from([dt.date(2026, 2, 1), dt.date(2026, 4, 1)]))
    return {"nodes": nodes, "first": first, "edits": edits, "start": start}


def build(spec: dict) -> tuple[Tree, list[Node]]:
    start = spec["start"]
    tree = Tree.objects.create(
        code=f"P{next(_codes)}",
        name="random",
        start_month=start,
        end_month=dt.date(start.year, start.month + 7, 1),
    )
    made: list[Node] = []
    for i, n in enumerate(spec["nodes"]):
        made.append(
            Node.objects.create(
                tree=tree,
                code=f"n{i}",
                name=f"n{i}",
                parent=None if n["parent"] is None else made[n["parent"]],
                rollup=n["rollup"],
                formula=n["formula"],
                time_aggregation=n["time_aggregation"],
                weight=n["weight"],
                direction=n["direction"],
            )
        )
    return tree, made


def month(tree: Tree, offset: int) -> str:
    m = tree.start_month.month + offset
    return f"{tree.start_month.year + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}"


def apply(manager, tree: Tree, nodes: list[Node], edits: list[tuple]) -> None:
    actuals: dict[tuple, dict] = {}
    targets: dict[tuple, dict] = {}
    for kind, i, where, value in edits:
        if kind == "actual":
            actuals[(i, where)] = {
                "tree": tree.code,
                "node": f"n{i}",
                "period": month(tree, where),
                "value": value,
            }
        elif kind == "target":
            targets[(i, where)] = {"node": f"n{i}", "period": month(tree, where), "value": value}
        else:
            node = Node.objects.get(pk=nodes[i].pk)
            node_save(user=manager, node=node, data={"direction": where, "amber_threshold": 50})
    if actuals:
        actuals_record(user=manager, rows=list(actuals.values()), channel="api")
    if targets:
        targets_record(user=manager, tree=tree, rows=list(targets.values()), channel="api")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.slow
@given(spec=trees())
def test_incremental_equals_full_on_random_trees_and_edits(manager, spec) -> None:
    tree, nodes = build(spec)
    apply(manager, tree, nodes, spec["first"])
    tree_recompute(tree_id=tree.pk, full=True)
    for step in spec["edits"]:
        apply(manager, tree, nodes, step)
        tree_recompute(tree_id=tree.pk, full=False)
        assert not RollupChange.objects.filter(tree=tree).exists()
        tree.refresh_from_db()
        assert tree.computed_version == tree.data_version
        assert_equals_a_clean_full_recompute(tree)


# -- rows written -------------------------------------------------------------------------------


def wide_tree(manager) -> tuple[Tree, dict[str, Node]]:
    """root (sum) → mid (sum) → 20 leaves, and 5 more leaves straight under root."""
    tree = TreeFactory(code="WIDE", name="wide")
    root = Node.objects.create(tree=tree, code="root", name="root", rollup="sum", kind="kgi")
    mid = Node.objects.create(tree=tree, code="mid", name="mid", parent=root, rollup="sum")
    nodes = {"root": root, "mid": mid}
    for i in range(20):
        nodes[f"a{i}"] = Node.objects.create(tree=tree, code=f"a{i}", name="a", parent=mid)
    for i in range(5):
        nodes[f"b{i}"] = Node.objects.create(tree=tree, code=f"b{i}", name="b", parent=root)
    rows = [
        {"tree": "WIDE", "node": code, "period": f"2026-{m:02d}", "value": 10}
        for code in nodes
        if code not in ("root", "mid")
        for m in range(4, 12)
    ]
    actuals_record(user=manager, rows=rows, channel="api")
    tree_recompute(tree_id=tree.pk, full=True)
    return tree, nodes


def test_a_single_leaf_change_writes_its_ancestors_rows_only(manager) -> None:
    tree, nodes = wide_tree(manager)
    actuals_record(
        user=manager,
        rows=[{"tree": "WIDE", "node": "a3", "period": "2026-05", "value": 11}],
        channel="api",
    )
    with CaptureQueriesContext(connection) as queries:
        result = tree_recompute(tree_id=tree.pk, full=False)
    # a3, mid and root: May, the first quarter and the fiscal year; nothing else changed.
    assert (result["mode"], result["updated"], result["inserted"], result["deleted"]) == (
        "incremental",
        9,
        0,
        0,
    )
    # 27 nodes were not evaluated: only a3, mid, root and their other children were read.
    assert result["nodes"] == 3
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len([w for w in writes if "kpitree_rollup" in w]) == 1
    root_may = Rollup.objects.get(node=nodes["root"], grain="month", period=dt.date(2026, 5, 1))
    assert root_may.actual == 251
    assert_equals_a_clean_full_recompute(tree)


def test_an_unchanged_result_writes_no_row(manager) -> None:
    tree, _nodes = wide_tree(manager)
    # a3 +1 and a4 −1 in May: the leaves' rows change, mid's and root's sums do not.
    actuals_record(
        user=manager,
        rows=[
            {"tree": "WIDE", "node": "a3", "period": "2026-05", "value": 11},
            {"tree": "WIDE", "node": "a4", "period": "2026-05", "value": 9},
        ],
        channel="api",
    )
    result = tree_recompute(tree_id=tree.pk, full=False)
    assert result["rows_written"] == 6  # a3 and a4: month, quarter and year


def test_the_up_to_date_task_does_nothing(manager) -> None:
    tree, _nodes = wide_tree(manager)
    from kpitree.tasks import recompute_tree

    with CaptureQueriesContext(connection) as queries:
        result = recompute_tree(tree.pk)
    assert result == {"tree": "WIDE", "skipped": "up to date", "rows_written": 0, "version": 1}
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # Releases the claim, reads the tree and its (no) pending changes; writes nothing else.
    assert statements.count("UPDATE") == 1
    assert not any(s in ("INSERT", "DELETE") for s in statements)


def test_a_structural_change_recomputes_the_whole_tree_but_writes_the_difference(
    manager,
) -> None:
    tree, nodes = wide_tree(manager)
    node_save(user=manager, node=nodes["b0"], data={"direction": "down"})
    result = tree_recompute(tree_id=tree.pk, full=False)
    # No targets, so no achievement: the direction changes nothing that is stored.
    assert (result["mode"], result["rows_written"]) == ("full", 0)
