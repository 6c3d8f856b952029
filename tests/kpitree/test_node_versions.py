"""A KPI's definition history (issue 13): every change of its definition keeps the old one."""

from __future__ import annotations

import datetime as dt

import pytest

from kpitree import services
from kpitree.models import Node, NodeVersion
from tests.factories import NodeFactory, TargetFactory, TreeFactory

pytestmark = pytest.mark.django_db


def test_a_definition_change_keeps_the_old_one_with_its_reason(manager) -> None:
    node = NodeFactory(tree=TreeFactory(), definition="架電した件数", unit="件")
    services.node_update(
        user=manager,
        node=node,
        data={"definition": "通話がつながった件数", "unit": "件", "weight": 2},
        reason="四半期レビューで定義を見直し",
    )
    (version,) = NodeVersion.objects.filter(node=node)
    assert version.before == {"definition": "架電した件数"}
    assert version.after == {"definition": "通話がつながった件数"}
    assert (version.reason, version.user, version.channel) == (
        "四半期レビューで定義を見直し",
        manager,
        "web",
    )


def test_a_change_outside_the_definition_or_a_new_node_keeps_no_version(manager) -> None:
    tree = TreeFactory()
    node = services.node_save(
        user=manager, node=Node(tree=tree), data={"code": "calls", "name": "架電数"}
    )
    services.node_update(user=manager, node=node, data={"weight": 3, "importance": 5})
    assert NodeVersion.objects.count() == 0


def test_drafting_a_kpi_without_numbers_keeps_no_version_and_it_can_be_deleted(manager) -> None:
    tree = TreeFactory()
    node = services.node_save(
        user=manager, node=Node(tree=tree), data={"code": "calls", "name": "架電数"}
    )
    services.node_update(user=manager, node=node, data={"definition": "架電した件数"})
    assert NodeVersion.objects.count() == 0
    assert services.node_delete(user=manager, node=node)["archived"] == 0
    assert not Node.all_objects.filter(pk=node.pk).exists()


def test_a_kpi_with_targets_keeps_each_definition_version(manager) -> None:
    tree = TreeFactory()
    node = NodeFactory(tree=tree, definition="架電した件数")
    TargetFactory(node=node, period=tree.start_month, value=3000)
    services.node_update(user=manager, node=node, data={"definition": "発信した件数"})
    services.node_update(user=manager, node=node, data={"definition": "通話した件数"})
    assert [v.after["definition"] for v in NodeVersion.objects.order_by("id")] == [
        "発信した件数",
        "通話した件数",
    ]
    assert services.node_delete(user=manager, node=node)["archived"] == 1


def test_a_review_date_only_moves_forward(manager) -> None:
    node = NodeFactory(tree=TreeFactory())
    assert services.nodes_mark_reviewed(node_ids=[node.pk], on=dt.date(2026, 9, 30)) == 1
    assert services.nodes_mark_reviewed(node_ids=[node.pk], on=dt.date(2026, 6, 30)) == 0
    node.refresh_from_db()
    assert node.reviewed_on == dt.date(2026, 9, 30)


def test_a_node_a_review_names_is_archived_not_deleted(manager, engagement_a) -> None:
    from pdca.models import Review, ReviewFinding

    tree = TreeFactory()
    node = NodeFactory(tree=tree, engagement=engagement_a)
    review = Review.objects.create(
        engagement=engagement_a, kind="monthly", held_on=dt.date(2026, 10, 31)
    )
    ReviewFinding.objects.create(review=review, node=node, hypothesis="リスト枯渇")
    assert services.node_delete(user=manager, node=node)["archived"] == 1
    assert Node.all_objects.get(pk=node.pk).archived_at is not None
    assert services.tree_delete(user=manager, tree=tree) is True
