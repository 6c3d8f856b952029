"""A small scorecard with known numbers (October 2026), for CALL-1 (engagement_a, callnavi):

financial: fin_a  weight 2, target 100, actual 150 → achievement 150, score 120 (capped)
           fin_b  weight 1, target 100, actual 90  → 90
           financial = (120 × 2 + 90) / 3 = 110
customer:  cus_a  lower is better, target 100, actual 125 → achievement 80, score 80
learning:  lrn_a  a target and no actual → no score: the perspective has a KPI but no score
process:   no KPI → missing
overall (equal weights) = (110 + 80) / 2 = 95 → amber
ADS-1 (engagement_b, adbridge) owns ads_a (financial, 100 / 100).
"""

from __future__ import annotations

import datetime as dt

import pytest

from kpitree.models import Node, Tree
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, targets_record

OCT = dt.date(2026, 10, 1)


def kpi(tree: Tree, code: str, engagement, perspective: str, **extra) -> Node:
    return Node.objects.create(
        tree=tree,
        code=code,
        name=extra.pop("name", code),
        engagement=engagement,
        perspective=perspective,
        unit=extra.pop("unit", "件"),
        **extra,
    )


@pytest.fixture
def sc_tree(db) -> Tree:
    return Tree.objects.create(
        code="SC",
        name="スコアカード検証",
        start_month=dt.date(2026, 4, 1),
        end_month=dt.date(2027, 3, 1),
    )


@pytest.fixture
def small(manager, sc_tree, engagement_a, engagement_b) -> dict[str, Node]:
    nodes = {
        "fin_a": kpi(
            sc_tree, "fin_a", engagement_a, "financial", weight=2, name="受注金額", importance=5
        ),
        "fin_b": kpi(sc_tree, "fin_b", engagement_a, "financial", name="粗利", importance=4),
        "cus_a": kpi(
            sc_tree,
            "cus_a",
            engagement_a,
            "customer",
            direction="down",
            name="解約数",
            importance=2,
        ),
        "lrn_a": kpi(sc_tree, "lrn_a", engagement_a, "learning", name="改善提案件数", importance=1),
        "ads_a": kpi(sc_tree, "ads_a", engagement_b, "financial", name="CV数"),
    }
    targets = [
        {"node": code, "period": "2026-10", "value": 100, "rationale": "agreement"}
        for code in ("fin_a", "fin_b", "cus_a", "lrn_a", "ads_a")
    ]
    targets_record(user=manager, tree=sc_tree, rows=targets, channel="api")
    record(
        manager,
        [
            ("fin_a", "2026-10", 150),
            ("fin_b", "2026-10", 90),
            ("cus_a", "2026-10", 125),
            ("ads_a", "2026-10", 100),
        ],
    )
    return nodes


def record(user, values, tree: str = "SC", comment: str = "") -> None:
    actuals_record(
        user=user,
        rows=[
            {"tree": tree, "node": n, "period": p, "value": v, "comment": comment}
            for n, p, v in values
        ],
        channel="api",
    )
    for t in Tree.objects.filter(code=tree):
        tree_recompute(tree_id=t.pk)
