"""Fixtures of the vendor portal tests (the plan FY2026 and a frozen "now"; see helpers.py)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from engagements.models import Engagement, User
from kpitree import services as tree_services
from kpitree.models import Tree
from tests.portal.helpers import NOW, add_node


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def plan(frozen_now, manager: User, engagement_a: Engagement, engagement_b: Engagement) -> dict:
    tree = Tree.objects.create(
        code="FY2026",
        name="FY2026 新規顧客",
        start_month=dt.date(2026, 4, 1),
        end_month=dt.date(2027, 3, 1),
    )
    engagement_a.actuals_due_day = 10
    engagement_a.save()
    kgi = add_node(manager, tree, "new_customers", name="新規顧客数", kind="kgi", rollup="sum")
    orders = add_node(
        manager,
        tree,
        "orders",
        name="受注数",
        parent=kgi,
        engagement=engagement_a,
        rollup="formula",
    )
    nodes = {"new_customers": kgi, "orders": orders}
    nodes["calls"] = add_node(
        manager, tree, "calls", name="架電数", parent=orders, engagement=engagement_a, unit="件"
    )
    nodes["appt_rate"] = add_node(
        manager,
        tree,
        "appt_rate",
        name="アポ取得率",
        parent=orders,
        engagement=engagement_a,
        unit="%",
        time_aggregation="avg",
    )
    tree_services.node_save(user=manager, node=orders, data={"formula": "calls * appt_rate / 100"})
    nodes["ads_cv"] = add_node(
        manager, tree, "ads_cv", name="広告CV", parent=kgi, engagement=engagement_b
    )
    nodes["inhouse"] = add_node(manager, tree, "inhouse", name="社内リード", parent=kgi)
    nodes["proposals"] = add_node(
        manager,
        tree,
        "proposals",
        name="改善提案件数",
        engagement=engagement_a,
        perspective="learning",
        source="proposal_count",
    )
    nodes["adoption"] = add_node(
        manager,
        tree,
        "adoption",
        name="提案採用率",
        engagement=engagement_a,
        perspective="learning",
        unit="%",
        time_aggregation="avg",
        source="proposal_adoption",
    )
    tree_services.targets_record(
        user=manager,
        tree=tree,
        rows=[
            {"node": "calls", "period": "2026-10", "value": 3000},
            {"node": "appt_rate", "period": "2026-10", "value": 10},
        ],
        channel="system",
    )
    return {"tree": tree, **nodes}
