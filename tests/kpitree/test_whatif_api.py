"""The what-if, sensitivity and goal-seek API (kpitree/analysis_api.py) on the worked funnel."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from kpitree.models import Actual, Target
from tests.api.conftest import client_for
from tests.kpitree.test_whatif_support import URLS, funnel_tree

pytestmark = pytest.mark.urls(URLS)

WHAT_IF = "/api/v1/trees/FY2026/what-if/"
SENSITIVITY = "/api/v1/trees/FY2026/sensitivity/"
GOAL_SEEK = "/api/v1/trees/FY2026/goal-seek/"


@pytest.fixture
def tree(engagement_a):
    return funnel_tree(engagement_a)


@pytest.fixture
def api(manager):
    return client_for(manager)


def _nodes(response) -> dict:
    return {row["node"]: row for row in response.json()["nodes"]}


def test_it_moves_every_ancestor_when_calls_rise_10_pct(tree, api) -> None:
    r = api.post(WHAT_IF, {"period": "2026-06", "changes": [{"node": "calls", "pct": 10}]})
    assert r.status_code == 200
    nodes = _nodes(r)
    assert nodes["orders"]["before"] == pytest.approx(27.0)
    assert nodes["orders"]["after"] == pytest.approx(29.7)
    assert nodes["customers"]["after"] == pytest.approx(110.7)
    assert nodes["calls"]["changed"] is True
    assert list(nodes) == [
        "customers",
        "orders",
        "calls",
        "connect_rate",
        "appt_rate",
        "meeting_rate",
        "win_rate",
        "ads_cv",
    ]


def test_it_computes_on_the_plans_targets(tree, api) -> None:
    body = {"period": "2026-06", "changes": [{"node": "calls", "value": 3300}], "target": True}
    nodes = _nodes(api.post(WHAT_IF, body))
    # 3,000 × 60 % × 10 % × 50 % × 40 % = 36 → 39.6 with 3,300 calls.
    assert nodes["orders"]["before"] == pytest.approx(36.0)
    assert nodes["orders"]["after"] == pytest.approx(39.6)


def test_it_writes_nothing(tree, api) -> None:
    before = (Actual.objects.count(), Target.objects.count())
    api.post(WHAT_IF, {"period": "2026-06", "changes": [{"node": "calls", "value": 1}]})
    assert (Actual.objects.count(), Target.objects.count()) == before
    assert Actual.objects.get(node__code="calls").value == 3000


def test_it_refuses_bad_input_with_field_errors(tree, api) -> None:
    body = {
        "period": "2026-06",
        "changes": [{"node": "orders", "pct": 5}, {"node": "calls"}, {"node": "zzz", "value": 1}],
    }
    r = api.post(WHAT_IF, body)
    assert r.status_code == 400
    errors = [(e["field"], e.get("index")) for e in r.json()["errors"]]
    assert errors == [("node", 0), ("value", 1), ("node", 2)]


def test_it_refuses_a_month_outside_the_plan_and_a_bad_month(tree, api) -> None:
    r = api.post(WHAT_IF, {"period": "2030-01", "changes": [{"node": "calls", "pct": 1}]})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "period")
    r = api.post(WHAT_IF, {"period": "June", "changes": [{"node": "calls", "pct": 1}]})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "period")
    r = api.post(WHAT_IF, {"period": "2026-06", "changes": []})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "changes")


def test_it_gives_the_elasticities_of_the_kgi_by_default(tree, api) -> None:
    r = api.get(SENSITIVITY, {"period": "2026-06"})
    assert r.status_code == 200
    body = r.json()
    assert (body["node"], body["value"]) == ("customers", pytest.approx(108.0))
    leaves = {row["node"]: row["elasticity"] for row in body["leaves"]}
    assert leaves == {
        "ads_cv": 0.75,
        "calls": 0.25,
        "connect_rate": 0.25,
        "appt_rate": 0.25,
        "meeting_rate": 0.25,
        "win_rate": 0.25,
    }


def test_every_funnel_factor_has_elasticity_one(tree, api) -> None:
    body = api.get(SENSITIVITY, {"period": "2026-06", "node": "orders"}).json()
    assert [row["elasticity"] for row in body["leaves"]] == [1.0] * 5


def test_sensitivity_refuses_bad_parameters(tree, api) -> None:
    r = api.get(SENSITIVITY, {"period": "x", "target": "maybe"})
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["period", "target"]
    r = api.get(SENSITIVITY, {"period": "2026-06", "node": "nope"})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "node")


def test_it_finds_the_connect_rate_for_30_orders(tree, api) -> None:
    body = {"period": "2026-06", "node": "orders", "value": 30, "leaf": "connect_rate"}
    r = api.post(GOAL_SEEK, body)
    assert r.status_code == 200
    data = r.json()
    assert data["reachable"] is True
    assert data["leaf_value"] == pytest.approx(200 / 3, abs=1e-9)
    assert data["range"] == [0.0, 100.0]
    assert data["leaf"]["current"] == 60


def test_300_orders_are_not_reachable(tree, api) -> None:
    body = {"period": "2026-06", "node": "orders", "value": 300, "leaf": "connect_rate"}
    data = api.post(GOAL_SEEK, body).json()
    assert (data["reachable"], data["leaf_value"]) == (False, 100.0)
    assert data["achieved"] == pytest.approx(45.0)


def test_goal_seek_takes_a_range_and_refuses_a_bad_one(tree, api) -> None:
    body = {"period": "2026-06", "node": "orders", "value": 30, "leaf": "calls"}
    data = api.post(GOAL_SEEK, {**body, "range": [0, 3100]}).json()
    assert (data["reachable"], data["leaf_value"]) == (False, 3100.0)
    r = api.post(GOAL_SEEK, {**body, "range": [5, 1]})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "range")
    r = api.post(GOAL_SEEK, {**body, "range": [1]})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "range")
    r = api.post(GOAL_SEEK, {**body, "leaf": "orders", "value": "x"})
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["value"]


def test_a_vendor_names_only_the_nodes_it_sees(tree, vendor_user) -> None:
    api = client_for(vendor_user)
    body = api.get(SENSITIVITY, {"period": "2026-06"}).json()
    # callnavi does not see the KGI: its highest KPI is 受注数.
    assert body["node"] == "orders"
    r = api.post(WHAT_IF, {"period": "2026-06", "changes": [{"node": "ads_cv", "pct": 10}]})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "node")
    r = api.post(WHAT_IF, {"period": "2026-06", "changes": [{"node": "calls", "pct": 10}]})
    assert set(_nodes(r)) == {
        "orders",
        *(["calls", "connect_rate", "appt_rate", "meeting_rate", "win_rate"]),
    }


def test_another_vendors_tree_answers_404(tree, other_vendor_user) -> None:
    api = client_for(other_vendor_user)
    r = api.post(WHAT_IF, {"period": "2026-06", "changes": [{"node": "calls", "pct": 10}]})
    assert r.status_code == 404
    assert api.get(SENSITIVITY, {"period": "2026-06"}).status_code == 404
    body = {"period": "2026-06", "node": "orders", "value": 30, "leaf": "connect_rate"}
    assert api.post(GOAL_SEEK, body).status_code == 404
    assert api.get("/api/v1/trees/NOPE/sensitivity/", {"period": "2026-06"}).status_code == 404


def test_anonymous_callers_get_401(tree) -> None:
    assert APIClient().get(SENSITIVITY, {"period": "2026-06"}).status_code == 401
