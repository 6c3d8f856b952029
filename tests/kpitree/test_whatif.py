"""What-if, elasticities and goal-seek (kpitree/whatif.py) on DOMAIN.md's worked funnel:
受注数 = 架電数 × 接続率 × アポ率 × 商談化率 × 受注率 = 3,000 × 60 % × 10 % × 50 % × 30 % = 27."""

from __future__ import annotations

import pytest

from kpi_planner.errors import ServiceError
from kpitree.engine import NodeSpec
from kpitree.whatif import Change, Scenario, elasticities, goal_seek, what_if

FUNNEL = "calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100"
SPECS = [
    NodeSpec("customers", rollup="sum"),
    NodeSpec("orders", parent="customers", rollup="formula", formula=FUNNEL),
    NodeSpec("calls", parent="orders"),
    NodeSpec("connect_rate", parent="orders"),
    NodeSpec("appt_rate", parent="orders"),
    NodeSpec("meeting_rate", parent="orders"),
    NodeSpec("win_rate", parent="orders"),
    NodeSpec("ads_cv", parent="customers"),
]
VALUES = {
    "calls": 3000,
    "connect_rate": 60,
    "appt_rate": 10,
    "meeting_rate": 50,
    "win_rate": 30,
    "ads_cv": 81,
}
UNITS = {"calls": "件", "connect_rate": "%", "appt_rate": "%", "meeting_rate": "%", "win_rate": "%"}
FACTORS = ["calls", "connect_rate", "appt_rate", "meeting_rate", "win_rate"]


@pytest.fixture
def funnel() -> Scenario:
    return Scenario(SPECS, VALUES, UNITS)


def _moves(moves) -> dict:
    return {m.node: m for m in moves}


def test_it_evaluates_the_funnel_as_the_rollup_does(funnel) -> None:
    assert funnel.value("orders") == pytest.approx(27.0, rel=1e-12)
    assert funnel.value("customers") == pytest.approx(108.0, rel=1e-12)


def test_it_moves_every_ancestor_when_calls_rise_10_pct(funnel) -> None:
    moves = _moves(what_if(funnel, [Change("calls", pct=10)]))
    assert moves["calls"].after == pytest.approx(3300.0)
    assert moves["calls"].changed is True
    assert moves["orders"].before == pytest.approx(27.0)
    assert moves["orders"].after == pytest.approx(29.7)
    assert moves["orders"].pct == pytest.approx(10.0)
    assert moves["customers"].after == pytest.approx(110.7)
    assert moves["ads_cv"].delta == 0


def test_it_applies_several_changes_at_once(funnel) -> None:
    moves = _moves(what_if(funnel, [Change("connect_rate", value=66), Change("win_rate", pct=-10)]))
    # 3000 × 66 % × 10 % × 50 % × 27 % = 26.73
    assert moves["orders"].after == pytest.approx(26.73)
    assert moves["orders"].delta == pytest.approx(-0.27)


def test_it_refuses_bad_changes_listing_each(funnel) -> None:
    with pytest.raises(ServiceError) as caught:
        what_if(
            funnel,
            [
                Change("orders", pct=5),
                Change("nope", value=1),
                Change("calls", value=1, pct=2),
                Change("win_rate", pct=1),
                Change("win_rate", pct=1),
            ],
        )
    problems = [(p.field, p.index) for p in caught.value.problems]
    assert problems == [("node", 0), ("node", 1), ("value", 2), ("node", 4)]


def test_it_refuses_a_pct_of_a_missing_value() -> None:
    s = Scenario(SPECS, {**VALUES, "calls": None}, UNITS)
    with pytest.raises(ServiceError) as caught:
        what_if(s, [Change("calls", pct=10)])
    assert [(p.field, p.index) for p in caught.value.problems] == [("pct", 0)]
    moves = _moves(what_if(s, [Change("calls", value=3000)]))
    assert moves["orders"].before is None
    assert moves["orders"].after == pytest.approx(27.0)


def test_every_factor_of_the_funnel_has_elasticity_one(funnel) -> None:
    result = elasticities(funnel, "orders")
    assert sorted(r.leaf for r in result) == sorted(FACTORS)
    assert {r.leaf: r.elasticity for r in result} == dict.fromkeys(FACTORS, 1.0)


def test_a_sum_nodes_elasticity_is_the_leafs_share(funnel) -> None:
    result = {r.leaf: r.elasticity for r in elasticities(funnel, "customers")}
    # orders 27 + ads_cv 81 = 108: ads_cv is 75 %, each funnel factor 25 %.
    assert result["ads_cv"] == 0.75
    assert result["calls"] == 0.25
    assert elasticities(funnel, "customers")[0].leaf == "ads_cv"


def test_an_elasticity_of_a_zero_or_missing_leaf_is_none() -> None:
    s = Scenario(SPECS, {**VALUES, "ads_cv": 0, "calls": None}, UNITS)
    result = {r.leaf: r.elasticity for r in elasticities(s, "customers")}
    assert result["ads_cv"] is None
    assert result["calls"] is None


def test_it_finds_the_connect_rate_for_30_orders(funnel) -> None:
    result = goal_seek(funnel, node="orders", goal=30, leaf="connect_rate")
    assert result.reachable is True
    assert result.value == pytest.approx(200 / 3, abs=1e-9)  # 66.666…%
    assert result.achieved == pytest.approx(30.0, abs=1e-9)
    assert (result.low, result.high) == (0.0, 100.0)


def test_300_orders_are_not_reachable_with_a_connect_rate_up_to_100(funnel) -> None:
    result = goal_seek(funnel, node="orders", goal=300, leaf="connect_rate")
    assert result.reachable is False
    assert result.value == 100.0
    assert result.achieved == pytest.approx(45.0)


def test_a_count_is_searched_up_to_ten_times_its_value(funnel) -> None:
    result = goal_seek(funnel, node="customers", goal=135, leaf="calls")
    # 135 − 81 = 54 orders = 2 × 27: twice the calls.
    assert result.value == pytest.approx(6000.0, abs=1e-6)
    assert result.high == 30000.0
    assert goal_seek(funnel, node="orders", goal=27, leaf="calls", bounds=(0, 2000)).value == 2000


def test_goal_seek_refuses_a_leaf_outside_the_node_and_a_bad_range(funnel) -> None:
    with pytest.raises(ServiceError) as caught:
        goal_seek(funnel, node="orders", goal=30, leaf="ads_cv")
    assert [p.field for p in caught.value.problems] == ["leaf"]
    with pytest.raises(ServiceError) as caught:
        goal_seek(funnel, node="orders", goal=30, leaf="calls", bounds=(10, 5))
    assert [p.field for p in caught.value.problems] == ["range"]
    with pytest.raises(ServiceError) as caught:
        goal_seek(funnel, node="orders", goal=30, leaf="orders")
    assert [p.field for p in caught.value.problems] == ["leaf"]


def test_goal_seek_needs_a_range_for_a_count_without_a_value() -> None:
    s = Scenario(SPECS, {**VALUES, "ads_cv": None}, UNITS)
    with pytest.raises(ServiceError) as caught:
        goal_seek(s, node="customers", goal=100, leaf="ads_cv")
    assert [p.field for p in caught.value.problems] == ["range"]
