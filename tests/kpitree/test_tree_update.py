"""tree_update / tree_delete / node_update: the writes behind the API's PATCH and DELETE."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from kpi_planner.models import Tombstone
from kpitree import services
from kpitree.models import Node, Tree
from tests.kpitree.conftest import row


def tombstones() -> list[tuple[str, str, str]]:
    return sorted(Tombstone.objects.values_list("kind", "scope", "code"))


def test_it_renames_a_tree_with_a_tombstone_for_each_vendor_that_saw_it(
    manager, tree, revenue, engagement_a, engagement_b
) -> None:
    services.tree_update(user=manager, tree=tree, data={"code": "FY2026b"})
    assert Tree.objects.get().code == "FY2026b"
    assert tombstones() == [
        ("tree", "", "FY2026"),
        (f"tree@{engagement_a.vendor_id}", "", "FY2026"),
        (f"tree@{engagement_b.vendor_id}", "", "FY2026"),
    ]


def test_it_marks_the_rollups_stale_only_when_months_or_thresholds_change(manager, tree) -> None:
    services.tree_update(user=manager, tree=tree, data={"name": "新しい名前"})
    assert Tree.objects.get().is_stale is False
    services.tree_update(user=manager, tree=tree, data={"green_threshold": 95})
    assert Tree.objects.values_list("green_threshold", flat=True).get() == 95
    assert Tree.objects.get().is_stale is True


def test_it_refuses_an_end_before_the_start_and_changes_nothing(manager, tree) -> None:
    with pytest.raises(ValidationError) as refused:
        services.tree_update(
            user=manager, tree=tree, data={"name": "x", "end_month": dt.date(2026, 1, 1)}
        )
    assert list(refused.value.message_dict) == ["end_month"]
    assert Tree.objects.values_list("name", "end_month").get() == (
        "FY2026 新規顧客獲得",
        dt.date(2027, 3, 1),
    )
    assert tombstones() == []


def test_it_refuses_a_supervisor(supervisor, tree) -> None:
    with pytest.raises(ValidationError):
        services.tree_update(user=supervisor, tree=tree, data={"name": "x"})
    assert Tree.objects.get().name == "FY2026 新規顧客獲得"


def test_it_deletes_a_tree_without_history(manager, tree, revenue) -> None:
    assert services.tree_delete(user=manager, tree=tree) is False
    assert (Tree.objects.count(), Node.all_objects.count()) == (0, 0)
    assert [t[0] for t in tombstones()].count("tree") == 1


def test_it_archives_a_tree_with_actuals(manager, tree, revenue) -> None:
    services.actuals_record(user=manager, rows=[row("visits", "2026-04", 120)], channel="api")
    assert services.tree_delete(user=manager, tree=tree) is True
    assert Tree.objects.get().archived_at is not None
    assert Node.all_objects.count() == 5
    assert ("tree", "", "FY2026") in tombstones()


def test_it_renames_a_node_with_a_tombstone_for_its_vendor(manager, revenue, engagement_b):
    services.node_update(user=manager, node=revenue["ads_cpa"], data={"code": "cpa"})
    assert Node.objects.filter(code="cpa").exists()
    assert tombstones() == [
        ("node", "FY2026", "ads_cpa"),
        (f"node@{engagement_b.vendor_id}", "FY2026", "ads_cpa"),
    ]


def test_it_tells_the_old_vendor_of_a_node_moved_in_house(manager, revenue, engagement_b):
    services.node_update(user=manager, node=revenue["ads_cpa"], data={"engagement": None})
    assert Node.objects.get(code="ads_cpa").engagement is None
    assert tombstones() == [(f"node@{engagement_b.vendor_id}", "FY2026", "ads_cpa")]
