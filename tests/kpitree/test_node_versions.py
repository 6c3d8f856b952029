"""A KPI's definition history (issue 13): every change of its definition keeps the old one."""

from __future__ import annotations

import datetime as dt

import pytest

from kpitree import services
from kpitree.models import Node, NodeVersion
from tests.factories import NodeFactory, TreeFactory

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


def test_a_review_date_only_moves_forward(manager) -> None:
    node = NodeFactory(tree=TreeFactory())
    assert services.nodes_mark_reviewed(node_ids=[node.pk], on=dt.date(2026, 9, 30)) == 1
    assert services.nodes_mark_reviewed(node_ids=[node.pk], on=dt.date(2026, 6, 30)) == 0
    node.refresh_from_db()
    assert node.reviewed_on == dt.date(2026, 9, 30)
