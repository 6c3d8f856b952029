"""GET trees/{tree}/rollup/?period=YYYY-MM&grain=month|quarter|year."""

import pytest

from tests.api.helpers import errors_of, revenue_rows

URL = "/api/v1/trees/rev/rollup/"


@pytest.fixture
def recorded(mgr_api, rev_tree, django_capture_on_commit_callbacks):
    """Apr 50000 × 2% × 10000, May 40000 × 2.5% × 12000, Oct 10000 × 1.5% × 8000."""
    rows = (
        revenue_rows("2026-04", 50000, 2, 10000)
        + revenue_rows("2026-05", 40000, 2.5, 12000)
        + revenue_rows("2026-10", 10000, 1.5, 8000)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert mgr_api.post("/api/v1/actuals/bulk/", rows).status_code == 200


def rollup(api, **params) -> dict:
    r = api.get(URL, params)
    assert r.status_code == 200, r.json()
    return r.json()


def actuals(body: dict) -> dict:
    return {n["node"]: n["actual"] for n in body["nodes"]}


def test_it_shows_a_month(mgr_api, recorded):
    body = rollup(mgr_api, period="2026-05", grain="month")
    assert (body["tree"], body["period"], body["grain"], body["stale"]) == (
        "rev",
        "2026-05",
        "month",
        False,
    )
    assert body["nodes"] == [
        {
            "node": "sales",
            "actual": 12000000.0,
            "target": None,
            "achievement": None,
            "status": "none",
            "computed": True,
        },
        {
            "node": "visits",
            "actual": 40000.0,
            "target": None,
            "achievement": None,
            "status": "none",
            "computed": False,
        },
        {
            "node": "cvr",
            "actual": 2.5,
            "target": None,
            "achievement": None,
            "status": "none",
            "computed": False,
        },
        {
            "node": "avg_price",
            "actual": 12000.0,
            "target": None,
            "achievement": None,
            "status": "none",
            "computed": False,
        },
        {
            "node": "ad_clicks",
            "actual": None,
            "target": None,
            "achievement": None,
            "status": "none",
            "computed": False,
        },
    ]


def test_it_defaults_to_the_month_grain(mgr_api, recorded):
    body = rollup(mgr_api, period="2026-04")
    assert body["grain"] == "month"
    assert actuals(body)["sales"] == 10000000.0


def test_it_combines_a_fiscal_quarter_by_each_nodes_time_aggregation(mgr_api, recorded):
    body = rollup(mgr_api, period="2026-05", grain="quarter")
    assert body["period"] == "2026-04"
    # visits sum, cvr and avg_price average, sales sums its months.
    assert actuals(body) == {
        "sales": 22000000.0,
        "visits": 90000.0,
        "cvr": 2.25,
        "avg_price": 11000.0,
        "ad_clicks": None,
    }
    assert actuals(rollup(mgr_api, period="2026-12", grain="quarter")) == {
        "sales": 1200000.0,
        "visits": 10000.0,
        "cvr": 1.5,
        "avg_price": 8000.0,
        "ad_clicks": None,
    }


def test_it_recomputes_a_formula_over_the_quarter(
    mgr_api, recorded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            mgr_api.patch(
                "/api/v1/trees/rev/nodes/sales/", {"time_aggregation": "recompute"}
            ).status_code
            == 200
        )
    assert actuals(rollup(mgr_api, period="2026-06", grain="quarter"))["sales"] == 22275000.0


def test_it_combines_a_fiscal_year(mgr_api, recorded):
    body = rollup(mgr_api, period="2027-02", grain="year")
    assert body["period"] == "2026-04"
    assert actuals(body) == {
        "sales": 23200000.0,
        "visits": 100000.0,
        "cvr": 2.0,
        "avg_price": 10000.0,
        "ad_clicks": None,
    }


def test_it_follows_a_changed_fiscal_year_start(
    mgr_api, recorded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert mgr_api.patch("/api/v1/trees/rev/", {"fiscal_year_start": 1}).status_code == 200
    body = rollup(mgr_api, period="2026-05", grain="year")
    assert body["period"] == "2026-01"
    assert actuals(body)["visits"] == 100000.0
    body = rollup(mgr_api, period="2026-11", grain="quarter")
    assert body["period"] == "2026-10"
    assert actuals(body)["visits"] == 10000.0


def test_it_shows_targets_achievement_and_status(
    mgr_api, recorded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            mgr_api.patch("/api/v1/trees/rev/nodes/avg_price/", {"direction": "down"}).status_code
            == 200
        )
        assert (
            mgr_api.put(
                "/api/v1/trees/rev/targets/",
                [
                    {"node": "visits", "period": "2026-04", "value": 50000},
                    {"node": "cvr", "period": "2026-04", "value": 2.5},
                    {"node": "avg_price", "period": "2026-04", "value": 20000},
                    {"node": "ad_clicks", "period": "2026-04", "value": 1000},
                ],
            ).status_code
            == 200
        )
    nodes = {n["node"]: n for n in rollup(mgr_api, period="2026-04")["nodes"]}
    assert [
        (c, nodes[c]["target"], nodes[c]["achievement"], nodes[c]["status"]) for c in nodes
    ] == [
        ("sales", 25000000.0, 40.0, "red"),  # derived: 50000 × 2.5 / 100 × 20000
        ("visits", 50000.0, 100.0, "green"),
        ("cvr", 2.5, 80.0, "red"),
        ("avg_price", 20000.0, 200.0, "green"),  # lower is better: half the target is 200
        ("ad_clicks", 1000.0, None, "none"),  # no actual
    ]


def test_it_follows_the_trees_thresholds(mgr_api, recorded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mgr_api.put(
            "/api/v1/trees/rev/targets/", [{"node": "cvr", "period": "2026-04", "value": 2.5}]
        )
    assert {n["node"]: n["status"] for n in rollup(mgr_api, period="2026-04")["nodes"]}[
        "cvr"
    ] == "red"
    with django_capture_on_commit_callbacks(execute=True):
        assert mgr_api.patch("/api/v1/trees/rev/", {"amber_threshold": 75}).status_code == 200
    assert {n["node"]: n["status"] for n in rollup(mgr_api, period="2026-04")["nodes"]}[
        "cvr"
    ] == "amber"


def test_it_leaves_missing_inputs_and_division_by_zero_null(
    mgr_api, rev_tree, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            mgr_api.patch("/api/v1/trees/rev/nodes/sales/", {"formula": "visits / cvr"}).status_code
            == 200
        )
        assert (
            mgr_api.post(
                "/api/v1/actuals/bulk/",
                [
                    {"tree": "rev", "node": "visits", "period": "2026-04", "value": 100},
                    {"tree": "rev", "node": "cvr", "period": "2026-04", "value": 0},
                    {"tree": "rev", "node": "visits", "period": "2026-05", "value": 100},
                ],
            ).status_code
            == 200
        )
    assert actuals(rollup(mgr_api, period="2026-04"))["sales"] is None
    assert actuals(rollup(mgr_api, period="2026-05"))["sales"] is None
    assert actuals(rollup(mgr_api, period="2026-06"))["visits"] is None


def test_it_shows_a_vendor_only_its_nodes(vendor_api, recorded, ads_tree):
    assert actuals(rollup(vendor_api, period="2026-04")) == {
        "visits": 50000.0,
        "cvr": 2.0,
        "avg_price": 10000.0,
    }
    r = vendor_api.get("/api/v1/trees/ads/rollup/", {"period": "2026-04"})
    assert r.status_code == 404
    assert errors_of(r) == [{"field": None}]


def test_it_shows_a_supervisor_every_node(sv_api, recorded):
    assert actuals(rollup(sv_api, period="2026-04"))["sales"] == 10000000.0


@pytest.mark.parametrize(
    "params,fields",
    [
        ({"period": "2026-04", "grain": "week"}, ["grain"]),
        ({"period": "2026-13"}, ["period"]),
        ({"period": "2026-4-1"}, ["period"]),
        ({}, ["period"]),
        ({"period": "April", "grain": "decade"}, ["grain", "period"]),
    ],
)
def test_it_refuses_a_bad_grain_or_period(mgr_api, rev_tree, params, fields):
    r = mgr_api.get(URL, params)
    assert r.status_code == 400
    assert [e["field"] for e in errors_of(r)] == fields


def test_it_answers_404_for_an_unknown_tree(mgr_api, db):
    assert mgr_api.get("/api/v1/trees/nope/rollup/", {"period": "2026-04"}).status_code == 404
