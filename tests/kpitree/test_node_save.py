import pytest
from django.core.exceptions import ValidationError

from kpi_planner.models import Tombstone
from kpitree.models import Actual, Node, ValueAudit
from kpitree.services import actuals_record, node_delete, node_save
from tests.kpitree.conftest import row


def errors_of(exc: pytest.ExceptionInfo) -> dict:
    return exc.value.message_dict


def test_it_creates_a_node_under_a_parent(manager, tree, revenue):
    node = node_save(
        user=manager,
        node=Node(tree=tree),
        data={"code": "visits_web", "name": "Web訪問", "parent": revenue["visits"]},
    )
    assert node.parent == revenue["visits"]
    tree.refresh_from_db()
    # The write bumped the version; the recompute waits for the commit (not run in this test).
    assert (tree.data_version, tree.is_stale) == (1, True)


@pytest.mark.parametrize(
    "formula,fragment",
    [
        ("visits * clicks", "clicks"),
        ("visits **", "途中で終わっています"),
        ("visits * (cvr", "閉じられていません"),
        ("__import__('os').system('x')", "min()、max()、abs()、round()"),
        ("visits ** 2", "**"),
    ],
)
def test_it_rejects_a_bad_formula_and_keeps_the_old_one(manager, revenue, formula, fragment):
    sales = revenue["sales"]
    with pytest.raises(ValidationError) as exc:
        node_save(user=manager, node=sales, data={"formula": formula})
    assert fragment in " ".join(errors_of(exc)["formula"])
    assert Node.objects.get(pk=sales.pk).formula == "visits * cvr / 100 * avg_price"


def test_it_refuses_a_move_that_makes_a_cycle(manager, revenue):
    child = node_save(
        user=manager,
        node=Node(tree=revenue["sales"].tree),
        data={"code": "x", "name": "x", "parent": revenue["visits"]},
    )
    with pytest.raises(ValidationError) as exc:
        node_save(user=manager, node=revenue["visits"], data={"parent": child})
    assert "cycle" in errors_of(exc)["parent"][0] or "循環" in errors_of(exc)["parent"][0]
    assert Node.objects.get(pk=revenue["visits"].pk).parent == revenue["sales"]


def test_it_refuses_recompute_on_a_non_formula_node(manager, revenue):
    with pytest.raises(ValidationError) as exc:
        node_save(user=manager, node=revenue["visits"], data={"time_aggregation": "recompute"})
    assert list(errors_of(exc)) == ["time_aggregation"]


def test_it_refuses_to_rename_a_child_used_in_the_parents_formula(manager, revenue):
    with pytest.raises(ValidationError) as exc:
        node_save(user=manager, node=revenue["cvr"], data={"code": "conv_rate"})
    assert "sales" in errors_of(exc)["code"][0]
    assert Node.objects.filter(code="cvr").exists()


def test_it_refuses_a_duplicate_code_in_the_tree(manager, tree, revenue):
    with pytest.raises(ValidationError) as exc:
        node_save(user=manager, node=Node(tree=tree), data={"code": "visits", "name": "dup"})
    assert errors_of(exc) == {"code": ["コード「visits」はこのツリーですでに使われています。"]}
    assert Node.objects.filter(code="visits").count() == 1


def test_it_refuses_changes_by_non_managers(vendor_user, revenue):
    with pytest.raises(ValidationError):
        node_save(user=vendor_user, node=revenue["visits"], data={"name": "改ざん"})
    assert Node.objects.get(pk=revenue["visits"].pk).name == "訪問数"


def test_it_archives_a_subtree_with_actuals_and_reports_it(manager, tree, revenue):
    branch = node_save(
        user=manager,
        node=Node(tree=tree),
        data={"code": "leads", "name": "リード", "rollup": "sum"},
    )
    for code in ("leads_a", "leads_b"):
        node_save(
            user=manager, node=Node(tree=tree), data={"code": code, "name": code, "parent": branch}
        )
    actuals_record(
        user=manager,
        rows=[row("leads_a", "2026-04", 3), row("leads_b", "2026-04", 4)],
        channel="web",
    )
    assert node_delete(user=manager, node=branch) == {
        "nodes": 3,
        "actuals": 2,
        "targets": 0,
        "archived": 1,
    }
    assert not Node.objects.filter(code__startswith="leads").exists()
    assert Node.all_objects.filter(code__startswith="leads", archived_at__isnull=False).count() == 3
    assert Actual.objects.count() == 2  # kept, with their audit rows
    assert ValueAudit.objects.filter(node__code__startswith="leads").count() == 2
    assert sorted(Tombstone.objects.values_list("code", flat=True)) == [
        "leads",
        "leads_a",
        "leads_b",
    ]


def test_it_refuses_to_delete_a_child_named_in_the_parents_formula(manager, revenue):
    with pytest.raises(ValidationError):
        node_delete(user=manager, node=revenue["cvr"])
    assert Node.objects.filter(code="cvr").exists()
