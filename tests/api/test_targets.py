"""trees/{tree}/targets/: GET, and PUT as a bulk upsert (managers only, all rows or none)."""

import datetime as dt

from kpitree.models import Target, ValueAudit
from tests.api.helpers import counts, errors_of

URL = "/api/v1/trees/rev/targets/"
ROWS = [
    {"node": "visits", "period": "2026-04", "value": 50000, "rationale": "past_results"},
    {"node": "cvr", "period": "2026-04", "value": 2.5, "rationale": "benchmark"},
    {"node": "ad_clicks", "period": "2026-05", "value": 1200, "rationale": "agreement"},
    {"node": "sales", "period": "2026-04", "value": 12_000_000, "rationale": "stretch"},
]


def test_it_upserts_targets_and_returns_them(mgr_api, rev_tree):
    r = mgr_api.put(URL, ROWS)
    assert r.status_code == 200
    assert r.json() == {"created": 4, "updated": 0, "unchanged": 0}
    assert mgr_api.get(URL).json() == [
        {"node": "ad_clicks", "period": "2026-05", "value": 1200.0, "rationale": "agreement"},
        {"node": "cvr", "period": "2026-04", "value": 2.5, "rationale": "benchmark"},
        {"node": "sales", "period": "2026-04", "value": 12_000_000.0, "rationale": "stretch"},
        {"node": "visits", "period": "2026-04", "value": 50000.0, "rationale": "past_results"},
    ]


def test_it_changes_only_what_differs(mgr_api, manager, rev_tree):
    mgr_api.put(URL, ROWS)
    r = mgr_api.put(URL, [{**ROWS[0], "value": 55000}, ROWS[1]])
    assert r.json() == {"created": 0, "updated": 1, "unchanged": 1}
    assert Target.objects.get(node__code="visits").value == 55000
    audit = ValueAudit.objects.filter(kind="target", node__code="visits").order_by("id")
    assert [(a.old_value, a.new_value, a.user, a.channel) for a in audit] == [
        (None, 50000.0, manager, "api"),
        (50000.0, 55000.0, manager, "api"),
    ]


def test_it_filters_by_node_and_period(mgr_api, rev_tree):
    mgr_api.put(URL, ROWS)
    assert [t["node"] for t in mgr_api.get(URL, {"node": "cvr"}).json()] == ["cvr"]
    assert [t["node"] for t in mgr_api.get(URL, {"period_from": "2026-05"}).json()] == ["ad_clicks"]
    r = mgr_api.get(URL, {"period_to": "2026-5"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "period_to"}]


def test_it_refuses_a_rationale_outside_the_list(mgr_api, rev_tree):
    r = mgr_api.put(URL, [ROWS[0], {**ROWS[1], "rationale": "gut_feeling"}])
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "rationale", "index": 1}]
    assert counts(Target, ValueAudit) == {"Target": 0, "ValueAudit": 0}


def test_it_lists_every_bad_row(mgr_api, rev_tree):
    r = mgr_api.put(
        URL,
        [
            {"node": "nowhere", "period": "2026-04", "value": 1},
            ROWS[0],
            {"node": "visits", "period": "2026-13", "value": 1},
            {"node": "visits", "period": "2030-01", "value": "abc"},
            {"node": "cvr", "period": "2026-06", "value": "inf"},
        ],
    )
    assert r.status_code == 400
    assert errors_of(r) == [
        {"field": "node", "index": 0},
        {"field": "period", "index": 2},
        {"field": "period", "index": 3},
        {"field": "value", "index": 3},
        {"field": "value", "index": 4},
    ]
    assert counts(Target) == {"Target": 0}


def test_it_refuses_a_body_that_is_not_a_list(mgr_api, rev_tree):
    r = mgr_api.put(URL, {"node": "visits", "period": "2026-04", "value": 1})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": None, "index": 0}]
    assert mgr_api.put(URL, []).status_code == 400
    assert counts(Target) == {"Target": 0}


def test_it_refuses_targets_to_a_vendor_and_a_supervisor(vendor_api, sv_api, rev_tree):
    for api in (vendor_api, sv_api):
        r = api.put(URL, ROWS[:1])
        assert r.status_code == 403
        assert errors_of(r) == [{"field": None}]
    assert counts(Target, ValueAudit) == {"Target": 0, "ValueAudit": 0}


def test_it_answers_404_for_a_tree_the_vendor_cannot_see(vendor_api, ads_tree):
    assert vendor_api.get("/api/v1/trees/ads/targets/").status_code == 404
    assert (
        vendor_api.put(
            "/api/v1/trees/ads/targets/", [{"node": "clicks", "period": "2026-04", "value": 1}]
        ).status_code
        == 404
    )
    assert counts(Target) == {"Target": 0}


def test_it_shows_a_vendor_only_the_targets_of_its_nodes(
    mgr_api, vendor_api, other_vendor_api, rev_tree
):
    mgr_api.put(URL, ROWS)
    assert [(t["node"], t["period"]) for t in vendor_api.get(URL).json()] == [
        ("cvr", "2026-04"),
        ("visits", "2026-04"),
    ]
    assert [t["node"] for t in other_vendor_api.get(URL).json()] == ["ad_clicks"]


def test_it_stores_the_first_of_the_month(mgr_api, rev_tree):
    mgr_api.put(URL, ROWS[:1])
    assert Target.objects.get().period == dt.date(2026, 4, 1)
