"""Issue 10, item 7: a sum or an average adds numbers of one unit. The demo's KGI summed
counts with a quality score in % (26.9 + 150.4 + 72 + 92 = 341.3, green at 113.8 %)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from kpitree.models import Node
from kpitree.services import node_save


def add(user, tree, code: str, **data) -> Node:
    return node_save(user=user, node=Node(tree=tree), data={"code": code, "name": code, **data})


@pytest.fixture
def leads(manager, tree) -> Node:
    total = add(manager, tree, "leads", rollup="sum", unit="件")
    add(manager, tree, "calls_leads", parent=total, unit="件")
    add(manager, tree, "ads_leads", parent=total, unit="件")
    return total


def test_it_refuses_a_percentage_under_a_sum_of_counts(manager, tree, leads):
    with pytest.raises(ValidationError) as exc:
        add(manager, tree, "quality", parent=leads, unit="%")
    assert exc.value.message_dict["unit"] == [
        "leadsは子を件の単位で合計しています。同じ単位にするか、別の親の下に置いてください。"
    ]
    assert not Node.objects.filter(code="quality").exists()


def test_it_refuses_to_turn_a_parent_of_mixed_units_into_a_sum(manager, tree):
    parent = add(manager, tree, "mix", rollup="formula", unit="件")
    add(manager, tree, "orders", parent=parent, unit="件")
    add(manager, tree, "rate", parent=parent, unit="%")
    with pytest.raises(ValidationError) as exc:
        node_save(user=manager, node=parent, data={"rollup": "sum"})
    assert exc.value.message_dict["rollup"] == [
        "子の単位が異なります（orders (件), rate (%)）。合計・平均は同じ単位の数を足し合わせます。"
        "異なる単位は数式で組み合わせるか、単位の違う子を移動してください。"
    ]
    assert Node.objects.get(pk=parent.pk).rollup == "formula"


def test_a_formula_may_combine_units(manager, tree):
    sales = add(manager, tree, "sales", rollup="formula", unit="円")
    add(manager, tree, "visits", parent=sales, unit="件")
    add(manager, tree, "cvr", parent=sales, unit="%")
    node_save(user=manager, node=sales, data={"formula": "visits * cvr / 100"})
    assert Node.objects.get(pk=sales.pk).formula == "visits * cvr / 100"


def test_a_weighted_average_of_scores_needs_one_unit(manager, tree):
    score = add(manager, tree, "score", rollup="weighted_avg", unit="%")
    add(manager, tree, "csat", parent=score, unit="%", weight=3)
    add(manager, tree, "ontime", parent=score, unit="%")
    with pytest.raises(ValidationError):
        add(manager, tree, "tickets", parent=score, unit="件")
    assert Node.objects.filter(parent=score).count() == 2


def test_the_bulk_sync_refuses_mixed_units_and_writes_nothing(manager, tree):
    api = APIClient()
    api.force_authenticate(manager)
    response = api.put(
        "/api/v1/trees/FY2026/nodes/",
        [
            {"code": "total", "name": "合計", "rollup": "sum", "unit": "件"},
            {"code": "a", "name": "a", "parent": "total", "unit": "件"},
            {"code": "b", "name": "b", "parent": "total", "unit": "%"},
        ],
        format="json",
    )
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} >= {"rollup"}
    assert not Node.objects.filter(tree=tree).exists()


def test_the_demo_kgi_adds_only_counts(db):
    from engagements.demo import seed_accounts_and_engagements
    from kpitree.demo import seed_trees

    seed_accounts_and_engagements()
    seed_trees()
    kgi = Node.objects.get(tree__code="FY2026-ACQ", code="new_customers")
    assert set(kgi.children.values_list("unit", flat=True)) == {"件"}
