import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from kpitree.models import Rollup, Target
from kpitree.recompute import stale_tree_ids, tree_recompute
from kpitree.services import actuals_record, targets_record
from kpitree.tasks import recompute_stale
from tests.kpitree.conftest import row

APR = dt.date(2026, 4, 1)


def test_it_writes_a_row_per_node_grain_and_period(manager, tree, revenue):
    tree_recompute(tree_id=tree.pk)
    # 5 nodes × (12 months + 4 quarters + 1 year)
    assert Rollup.objects.filter(tree=tree).count() == 5 * 17


def test_it_is_idempotent(manager, tree, revenue):
    actuals_record(
        user=manager,
        rows=[
            row("visits", "2026-04", 50_000),
            row("cvr", "2026-04", 2),
            row("avg_price", "2026-04", 10_000),
        ],
        channel="api",
    )
    tree_recompute(tree_id=tree.pk)
    first = sorted(
        Rollup.objects.values_list("node_id", "grain", "period", "actual", "target", "status")
    )
    tree_recompute(tree_id=tree.pk)
    assert (
        sorted(
            Rollup.objects.values_list("node_id", "grain", "period", "actual", "target", "status")
        )
        == first
    )


def test_it_computes_achievement_against_targets(manager, tree, revenue):
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "sales", "period": "2026-04", "value": 12_500_000}],
        channel="api",
    )
    actuals_record(
        user=manager,
        rows=[
            row("visits", "2026-04", 50_000),
            row("cvr", "2026-04", 2),
            row("avg_price", "2026-04", 10_000),
        ],
        channel="api",
    )
    tree_recompute(tree_id=tree.pk)
    r = Rollup.objects.get(node=revenue["sales"], grain="month", period=APR)
    assert (r.actual, r.target, r.achievement, r.status) == (10_000_000, 12_500_000, 80, "red")


def test_it_reads_the_tree_with_a_fixed_number_of_queries(manager, tree, revenue):
    with CaptureQueriesContext(connection) as small:
        tree_recompute(tree_id=tree.pk)
    from kpitree.models import Node

    Node.objects.bulk_create(
        [Node(tree=tree, code=f"extra{i}", name="x", parent=revenue["visits"]) for i in range(40)]
    )
    with CaptureQueriesContext(connection) as large:
        tree_recompute(tree_id=tree.pk)

    def reads(ctx: CaptureQueriesContext) -> int:
        return sum(q["sql"].startswith("SELECT") for q in ctx.captured_queries)

    # the tree, its pending changes, nodes, actuals, targets and the stored rollups
    assert reads(large) == reads(small) == 6


def test_the_beat_sweep_recomputes_stale_trees(manager, tree, revenue):
    actuals_record(
        user=manager, rows=[row("visits", "2026-04", 1)], channel="api"
    )  # on_commit not run
    assert stale_tree_ids() == [tree.pk]
    recompute_stale()  # eager: runs recompute_tree now
    assert stale_tree_ids() == []
    assert Rollup.objects.get(node=revenue["visits"], grain="month", period=APR).actual == 1


def test_it_ignores_a_deleted_tree(db):
    assert tree_recompute(tree_id=999) == {"tree": 999, "skipped": "deleted"}


def test_targets_are_not_duplicated_by_recompute(manager, tree, revenue):
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "visits", "period": "2026-04", "value": 1}],
        channel="api",
    )
    tree_recompute(tree_id=tree.pk)
    assert Target.objects.count() == 1
