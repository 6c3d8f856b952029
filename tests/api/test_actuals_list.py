"""GET actuals/: scoped to the caller, filtered, paginated, incremental."""

import datetime as dt

from django.utils import timezone

from kpitree.models import Actual
from tests.api.helpers import errors_of, revenue_rows

URL = "/api/v1/actuals/"


def rows_of(response) -> list[tuple]:
    return [(a["tree"], a["node"], a["period"], a["value"]) for a in response.json()["results"]]


def seed(api) -> None:
    rows = (
        revenue_rows()
        + revenue_rows("2026-05", visits=40000)
        + [
            {"tree": "rev", "node": "ad_clicks", "period": "2026-04", "value": 900},
            {"tree": "ads", "node": "clicks", "period": "2026-04", "value": 300},
        ]
    )
    assert api.post("/api/v1/actuals/bulk/", rows).status_code == 200


def test_it_lists_actuals_with_their_fields(mgr_api, rev_tree, ads_tree):
    mgr_api.post(
        "/api/v1/actuals/bulk/",
        [
            {
                "tree": "rev",
                "node": "visits",
                "period": "2026-04",
                "value": 50000,
                "comment": "速報値",
            }
        ],
    )
    [row] = mgr_api.get(URL).json()["results"]
    assert {
        k: row[k] for k in ("tree", "node", "period", "value", "comment", "status", "updated_by")
    } == {
        "tree": "rev",
        "node": "visits",
        "period": "2026-04",
        "value": 50000.0,
        "comment": "速報値",
        "status": "draft",
        "updated_by": "mgr",
    }
    assert row["updated_at"]


def test_it_shows_a_vendor_only_the_actuals_of_its_nodes(
    mgr_api, vendor_api, other_vendor_api, rev_tree, ads_tree
):
    seed(mgr_api)
    assert sorted(n for _t, n, _p, _v in rows_of(vendor_api.get(URL))) == [
        "avg_price",
        "avg_price",
        "cvr",
        "cvr",
        "visits",
        "visits",
    ]
    assert sorted(rows_of(other_vendor_api.get(URL))) == [
        ("ads", "clicks", "2026-04", 300.0),
        ("rev", "ad_clicks", "2026-04", 900.0),
    ]
    assert rows_of(vendor_api.get(URL, {"tree": "ads"})) == []
    assert rows_of(vendor_api.get(URL, {"engagement": "ADS-1"})) == []


def test_it_filters_by_tree_node_engagement_and_period(mgr_api, rev_tree, ads_tree):
    seed(mgr_api)
    assert rows_of(mgr_api.get(URL, {"tree": "ads"})) == [("ads", "clicks", "2026-04", 300.0)]
    assert rows_of(mgr_api.get(URL, {"node": "visits"})) == [
        ("rev", "visits", "2026-04", 50000.0),
        ("rev", "visits", "2026-05", 40000.0),
    ]
    assert rows_of(mgr_api.get(URL, {"node": "visits", "period_from": "2026-05"})) == [
        ("rev", "visits", "2026-05", 40000.0)
    ]
    assert rows_of(mgr_api.get(URL, {"node": "visits", "period_to": "2026-04"})) == [
        ("rev", "visits", "2026-04", 50000.0)
    ]
    assert len(rows_of(mgr_api.get(URL, {"engagement": "ADS-1"}))) == 2


def test_it_refuses_a_malformed_period_filter(mgr_api, rev_tree):
    r = mgr_api.get(URL, {"period_from": "2026-13"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "period_from"}]


def test_it_pages_with_a_next_cursor(mgr_api, rev_tree, ads_tree):
    seed(mgr_api)
    first = mgr_api.get(URL, {"page_size": 2}).json()
    assert len(first["results"]) == 2
    assert first["next"]
    seen = len(first["results"])
    page = first
    while page["next"]:
        page = mgr_api.get(page["next"]).json()
        seen += len(page["results"])
    assert seen == 8


def test_it_returns_only_actuals_changed_since(mgr_api, rev_tree):
    mgr_api.post("/api/v1/actuals/bulk/", revenue_rows())
    since = timezone.now()
    mgr_api.post("/api/v1/actuals/bulk/", revenue_rows(cvr=2.5))
    assert rows_of(mgr_api.get(URL, {"updated_since": since.isoformat()})) == [
        ("rev", "cvr", "2026-04", 2.5)
    ]
    assert Actual.objects.get(node__code="cvr").period == dt.date(2026, 4, 1)


def test_it_refuses_a_malformed_updated_since(mgr_api, rev_tree):
    r = mgr_api.get(URL, {"updated_since": "last week"})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "updated_since"}]


def test_it_lets_a_supervisor_read_every_actual(sv_api, mgr_api, rev_tree, ads_tree):
    seed(mgr_api)
    assert len(rows_of(sv_api.get(URL))) == 8
